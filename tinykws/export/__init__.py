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

A model folder is replaced as one set, never file by file: the new files are
written into a hidden sibling folder with a ``manifest.sha256`` (``sha256sum``
format) and swapped in by renames, so an interrupted export leaves the old set
or the new one, never a new ``KWS_MODEL_HASH`` beside an old array. Readers
(:func:`verify_model_dir`, ``tinykws flash``, ``firmware/tools/pio_model_dir.py``)
check the files against the manifest and refuse a folder that does not match.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tinykws.errors import UserError

#: Written last into every model folder: ``<sha256>  <file>`` for each other file of the set.
MANIFEST = "manifest.sha256"
#: The files of a model folder, in the order they are written.
MODEL_FILES = ("kws_model.h", "kws_model.cc", "model.json", "kws_feature_spec.h", "kws_net_model.h", MANIFEST)


def write_model_dir(out_dir: str | Path, *, tflite: bytes, labels: list[str], spec, quant: dict, arena_min_bytes: int,
                    arena_bytes: int, ops: list[str], recognizer, name: str) -> list[Path]:
    """Write the files of a model folder into ``out_dir`` as one set (see the module docstring); returns their paths."""
    from tinykws.export.carray import model_info, write_model_files
    from tinykws.export.native import native_summary, write_native_model
    from tinykws.export.spec_header import write_spec_header

    info = model_info(tflite=tflite, labels=labels, spec=spec, quant=quant, arena_min_bytes=arena_min_bytes,
                      arena_bytes=arena_bytes, ops=ops, recognizer=recognizer, name=name)
    info["native"] = native_summary(tflite)  # the native engine's RAM, weights and layers (kws_net_model.h)
    out = Path(out_dir)
    with _model_dir_swap(out) as stage:
        paths = write_model_files(stage, info, tflite)
        paths.append(write_spec_header(spec, stage / "kws_feature_spec.h"))
        paths.append(write_native_model(tflite, stage / "kws_net_model.h", name=name))
        paths.append(write_manifest(stage, [p.name for p in paths]))
    return [out / p.name for p in paths]


def write_manifest(folder: Path, names: list[str]) -> Path:
    """``folder/manifest.sha256`` listing ``names`` with their sha256 (the ``sha256sum`` format)."""
    from tinykws.io import atomic_write_text

    lines = [f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in names]
    return atomic_write_text(folder / MANIFEST, "".join(lines))


def verify_model_dir(folder: str | Path) -> None:
    """A one-line :class:`UserError` unless every file in the folder's manifest is there with its sha256.

    A folder without a manifest (written by hand, or by an older tinykws) is only checked for its files.
    """
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        missing = [n for n in MODEL_FILES if n != MANIFEST and not (folder / n).is_file()]
        if missing:
            raise UserError(f"model folder {folder} lacks {', '.join(missing)}: write it with `tinykws export RUN`")
        return
    for line in manifest.read_text(encoding="utf-8", errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        if not line.strip():
            continue
        path = folder / name
        if not name or "/" in name or not path.is_file():
            raise UserError(f"model folder {folder} is incomplete ({name or line!r} is missing; an interrupted export?): "
                            "write it again with `tinykws export RUN`")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest.strip():
            raise UserError(f"model folder {folder} is a mix of two exports ({name} does not match {MANIFEST}): "
                            "write it again with `tinykws export RUN`")


class _model_dir_swap:
    """``with _model_dir_swap(out) as stage:`` write the new set into ``stage``; on success it replaces ``out``.

    ``stage`` is a hidden sibling of ``out`` (same file system, so renames are atomic). The swap is
    two renames: ``out`` aside, ``stage`` into place; the old set is removed afterwards. Files in the
    old folder that are not part of a model folder (a README) are carried over. If anything fails
    before the swap, ``out`` is untouched and the stage removed.
    """

    def __init__(self, out: Path):
        self.out = out

    def __enter__(self) -> Path:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.out.exists() and not self.out.is_dir():
            raise UserError(f"{self.out} exists and is not a folder")
        for stale in self.out.parent.glob(f".{self.out.name}.new-*"):  # left by an interrupted export
            shutil.rmtree(stale, ignore_errors=True)
        self.stage = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.new-", dir=self.out.parent))
        # mkdtemp makes the folder private (0700); the model folder gets a plain mkdir's mode.
        from tinykws.io import _umask

        os.chmod(self.stage, 0o777 & ~_umask())
        return self.stage

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
            return False
        out, stage = self.out, self.stage
        try:
            if out.is_dir():
                for p in out.iterdir():
                    if p.name in MODEL_FILES or p.name == MANIFEST or p.name.startswith(".") or (stage / p.name).exists():
                        continue
                    (shutil.copytree if p.is_dir() else shutil.copy2)(p, stage / p.name)
                old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
                os.rename(out, old)
                try:
                    os.rename(stage, out)
                except BaseException:
                    os.rename(old, out)
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(stage, out)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        for stale in out.parent.glob(f".{out.name}.old-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return False


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
        Check first that the model fits this board with the native engine (flash, RAM,
        ops: :mod:`tinykws.export.boards`) and that the board keeps up with the
        run's stride (:mod:`tinykws.export.latency`); nothing is written when
        it does not.
    recognizer : RecognizerConfig or None
        Override the run's recognizer settings (e.g. a tuned threshold).

    The firmware runs the native engine only: a model it cannot run is refused before anything
    is written.
    """
    from tinykws.export.native import native_model_info
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
    native_model_info(run.tflite_bytes)  # a one-line UserError for a model the native engine cannot run
    rec = recognizer or run.recognizer
    arena_min = int(run.report["tflm"]["arena_bytes"])
    arena, _ = compiled_arena(run.tflite_bytes, arena_min, run.arena_bytes)
    fit_lines: list[str] = []
    if board is not None:
        fit_lines = board_fit_lines(run.tflite_bytes, run.spec, rec.stride_ms, board, ops=ops)
    paths = write_model_dir(
        out, tflite=run.tflite_bytes, labels=run.labels, spec=run.spec, quant=tflite_io_quantization(run.tflite_bytes),
        arena_min_bytes=arena_min, arena_bytes=arena, ops=ops, recognizer=rec, name=run.name,
    )
    return Export(out, paths, fit_lines)


def compiled_arena(tflite: bytes, arena_min_bytes: int, run_arena_bytes: int = 0) -> tuple[int, str]:
    """The TFLM arena to compile in, and one line saying what it is made of.

    The host finds the minimum with TFLM's reference kernels; the board runs CMSIS-NN, whose
    kernels ask for scratch buffers in the arena (:func:`tinykws.boardcode.tflm.cmsis_nn_scratch`).
    A run whose recorded arena is already larger keeps it.
    """
    from tinykws.boardcode.tflm import arena_with_margin, cmsis_nn_scratch

    scratch = cmsis_nn_scratch(tflite)
    arena = max(arena_with_margin(arena_min_bytes, scratch.bytes), int(run_arena_bytes or 0))
    margin = arena - arena_min_bytes - scratch.bytes
    return arena, (f"TFLM arena {arena:,} B: host minimum {arena_min_bytes:,} B with reference kernels + CMSIS-NN "
                   f"scratch {scratch.bytes:,} B (largest buffer {scratch.largest_bytes:,} B, {scratch.largest_kernel}; "
                   f"{scratch.bookkeeping_bytes:,} B bookkeeping) + margin {margin:,} B")


def board_fit_lines(tflite: bytes, spec, stride_ms: int, board: str, *, ops) -> list[str]:
    """Memory fit and speed of a model on ``board`` with the native engine, as report lines.

    Memory: the native engine's weights in flash and its own RAM
    (:func:`tinykws.export.native.native_model_info`). Speed: the estimate at ``stride_ms``
    (:mod:`tinykws.export.latency`). :class:`UserError` (one line naming every problem) when the
    model does not fit or the board would not keep up.
    """
    from tinykws.export.boards import check_fit
    from tinykws.export.latency import estimate_latency
    from tinykws.export.native import native_model_info
    from tinykws.boardcode.tflm import model_layers

    from tinykws.export.native import stream_plan_of

    info = native_model_info(tflite)
    sp = stream_plan_of(tflite)
    if sp is not None:  # the firmware runs the streaming mode: its state and scratch instead of the arena
        ram = sp.ram_bytes
        ram_line = (f"native engine RAM {ram:,} B, streaming mode ({sp.state_bytes:,} B state + {sp.scratch_bytes:,} B "
                    f"scratch; {sp.macs_per_stride(stride_ms // spec.hop_ms):,} MACs per {stride_ms} ms stride)")
    else:
        ram = int(info["ram_bytes"])
        parts = [f"{int(info[k]):,} B {name}" for k, name in (("arena_bytes", "activations"), ("scratch_bytes", "scratch"))
                 if k in info]
        ram_line = f"native engine RAM {ram:,} B" + (f" ({' + '.join(parts)})" if parts else "")
    fit = check_fit(board, int(info["weights_bytes"]), ram, ops)
    est = estimate_latency(bytes(tflite) if sp is not None else model_layers(tflite), spec, stride_ms, board)
    problems = list(fit.problems)
    if not est.keeps_up:
        problems.append(est.reason)
    if problems:
        raise UserError(f"the model does not fit {board}: " + "; ".join(problems) if fit.problems else problems[0])
    from tinykws.export.energy import estimate_energy

    return [*fit.lines, ram_line, f"speed: {est.line()}", estimate_energy(est).line()]


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
