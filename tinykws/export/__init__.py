"""Export: a run's model as the folder of C files the firmware compiles.

Takes a run (its int8 ``.tflite``, labels, feature spec, quantization, arena
size, recognizer settings) and gives a **model folder**: ``kws_model.h``,
``kws_model.cc`` (:mod:`.carray`), ``model.json`` and the generated
``kws_feature_spec.h`` (:mod:`.spec_header`), so the board computes exactly the
features the model was trained on. With a board name it first checks that the
model fits that board (:mod:`.boards`).

The model folder lives in the run (``runs/<run>/firmware/``). The firmware never
has it copied into its sources: PlatformIO is told where it is
(``TINYKWS_MODEL_DIR``, read by ``firmware/tools/pio_model_dir.py``), and the
checkout's ``firmware/model/`` (the shipped default model) is only ever written
by hand, with ``tinykws export RUN --firmware firmware``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinykws.errors import UserError

#: The files of a model folder, in the order they are written.
MODEL_FILES = ("kws_model.h", "kws_model.cc", "model.json", "kws_feature_spec.h")


def write_model_dir(out_dir: str | Path, *, tflite: bytes, labels: list[str], spec, quant: dict, arena_min_bytes: int,
                    arena_bytes: int, ops: list[str], recognizer, name: str) -> list[Path]:
    """Write the four files of a model folder into ``out_dir`` (each atomically); returns their paths."""
    from tinykws.export.carray import model_info, write_model_files
    from tinykws.export.spec_header import write_spec_header

    info = model_info(tflite=tflite, labels=labels, spec=spec, quant=quant, arena_min_bytes=arena_min_bytes,
                      arena_bytes=arena_bytes, ops=ops, recognizer=recognizer, name=name)
    out = Path(out_dir)
    paths = write_model_files(out, info, tflite)
    paths.append(write_spec_header(spec, out / "kws_feature_spec.h"))
    return paths


@dataclass
class Export:
    """What :func:`export_run` wrote."""

    model_dir: Path
    paths: list[Path]
    fit_lines: list[str]


def export_run(run_path, firmware_dir=None, *, board: str | None = None, recognizer=None) -> Export:
    """Write the run's model folder; returns what was written.

    Parameters
    ----------
    run_path : path
        A run folder.
    firmware_dir : path or None
        A firmware tree of your own (holding ``model/``): the model folder is
        written into ``<firmware_dir>/model/``. Default: ``<run>/firmware/``.
    board : str or None
        Check the model fits this board first (:mod:`tinykws.export.boards`);
        nothing is written when it does not.
    recognizer : RecognizerConfig or None
        Override the run's recognizer settings (e.g. a tuned threshold).
    """
    from tinykws.model.quantize import builtin_ops, tflite_io_quantization
    from tinykws.run import load_run

    run = load_run(run_path)
    if firmware_dir is not None:
        fw = Path(firmware_dir)
        if not fw.is_dir():
            raise UserError(f"firmware folder not found: {fw}")
        out = fw / "model"
    else:
        out = run.model_dir
    ops = builtin_ops(run.tflite_bytes)
    fit_lines: list[str] = []
    if board is not None:
        from tinykws.export.boards import ensure_fits

        fit_lines = list(ensure_fits(board, len(run.tflite_bytes), run.arena_bytes, ops).lines)
    paths = write_model_dir(
        out, tflite=run.tflite_bytes, labels=run.labels, spec=run.spec, quant=tflite_io_quantization(run.tflite_bytes),
        arena_min_bytes=int(run.report["tflm"]["arena_bytes"]), arena_bytes=run.arena_bytes, ops=ops,
        recognizer=recognizer or run.recognizer, name=run.name,
    )
    return Export(out, paths, fit_lines)


def build_command(board: str, project_dir: Path, *, upload: bool = False, upload_port: str | None = None) -> list[str]:
    """``pio run`` for ``board`` on the firmware project (the model folder travels in ``TINYKWS_MODEL_DIR``)."""
    from tinykws.export.boards import board as board_info

    cmd = ["pio", "run", "-d", str(project_dir), "-e", board_info(board).env]
    if upload:
        cmd += ["-t", "upload"]
        if upload_port is not None:
            cmd += ["--upload-port", upload_port]
    return cmd


def command_line(board: str, model_dir: Path, project_dir: Path, *, upload: bool = True,
                 upload_port: str | None = None) -> str:
    """The same as one shell line a user can paste, with the model folder in front."""
    import shlex

    cmd = build_command(board, project_dir, upload=upload, upload_port=upload_port)
    return f"TINYKWS_MODEL_DIR={shlex.quote(str(Path(model_dir).resolve()))} " + " ".join(shlex.quote(c) for c in cmd)
