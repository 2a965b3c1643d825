"""Export: a run's model into the firmware tree.

:func:`export_run` writes ``kws_model.h`` / ``kws_model.cc`` / ``model.json``
into ``<firmware>/src/model/`` and regenerates the feature-spec header in the
portable core, so the board computes exactly the features the model was trained
on. With a board name it first checks that the model fits that board.
"""

from __future__ import annotations

import json
from pathlib import Path

from tinykws.errors import UserError


def default_firmware_dir() -> Path:
    """``./firmware`` when run from a checkout, else the firmware next to the package source."""
    here = Path.cwd() / "firmware"
    if (here / "src").is_dir():
        return here
    repo = Path(__file__).resolve().parents[2] / "firmware"
    if (repo / "src").is_dir():
        return repo
    raise UserError("no firmware folder found: run from a tinykws checkout or pass --firmware DIR")


def export_run(run_path, firmware_dir=None, *, board: str | None = None, recognizer=None) -> list[Path]:
    """Write the run's model files into ``firmware_dir``; returns the written paths.

    Parameters
    ----------
    run_path : path
        A run folder.
    firmware_dir : path or None
        The firmware root (holding ``src/`` and ``lib/``); default :func:`default_firmware_dir`.
    board : str or None
        Check the model fits this board first (:mod:`tinykws.export.boards`).
    recognizer : RecognizerConfig or None
        Override the run's recognizer settings (e.g. a tuned threshold).
    """
    from tinykws.export.carray import model_info, write_model_files
    from tinykws.quantize import builtin_ops, tflite_io_quantization
    from tinykws.run import load_run

    run = load_run(run_path)
    fw = Path(firmware_dir) if firmware_dir else default_firmware_dir()
    if not fw.is_dir():
        raise UserError(f"firmware folder not found: {fw}")
    ops = builtin_ops(run.tflite_bytes)
    if board is not None:
        from tinykws.export.boards import ensure_fits

        ensure_fits(board, len(run.tflite_bytes), run.arena_bytes, ops)
    info = model_info(
        tflite=run.tflite_bytes, labels=run.labels, spec=run.spec, quant=tflite_io_quantization(run.tflite_bytes),
        arena_min_bytes=int(run.report["tflm"]["arena_bytes"]), arena_bytes=run.arena_bytes, ops=ops,
        recognizer=recognizer or run.recognizer, name=run.name,
    )
    paths = write_model_files(fw / "src" / "model", info, run.tflite_bytes)
    try:
        from tinykws.export.spec_header import write_spec_header
    except ImportError:  # pragma: no cover - the core ships it
        raise UserError("tinykws.export.spec_header is missing: broken installation") from None
    header = fw / "lib" / "kws_core" / "include" / "kws_feature_spec.h"
    write_spec_header(run.spec, header)
    paths.append(header)
    return paths


def read_model_json(firmware_dir) -> dict:
    p = Path(firmware_dir) / "src" / "model" / "model.json"
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise UserError(f"{p} not found: export a model first") from None
