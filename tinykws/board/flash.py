"""``tinykws flash``: export, fit check, PlatformIO build and upload, then check what the board runs.

Steps: export the run's model folder into the run (refusing a model that does
not fit the board), run ``pio run -e ENV -t upload --upload-port PORT`` on the
firmware project with ``TINYKWS_MODEL_DIR`` pointing at that folder (the
firmware's sources are never written), stream its output, wait for the board's
BOOT / INFO line and compare its model hash with the run's.

Build options go to PlatformIO through ``PLATFORMIO_BUILD_FLAGS`` (added to any
flags already set there): ``--mic-gain N`` adds ``-DKWS_MIC_GAIN=N``. The printed
command line shows them. The firmware runs the native engine only; a board that reports
another one is refused.

Before building, the model folder's manifest is checked
(:func:`tinykws.export.verify_model_dir`), so a folder left half-written by an
interrupted export is refused instead of flashed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from tinykws.errors import UserError


def find_pio() -> str:
    """PlatformIO's ``pio``: ``$TINYKWS_PIO`` if set, else the one beside this Python, else on PATH."""
    own = os.environ.get("TINYKWS_PIO")
    if own:
        if not (Path(own).is_file() and os.access(own, os.X_OK)):
            raise UserError(f"TINYKWS_PIO={own} is not an executable file")
        return own
    cand = Path(sys.executable).with_name("pio")
    if cand.exists():
        return str(cand)
    p = shutil.which("pio") or shutil.which("platformio")
    if not p:
        raise UserError("PlatformIO is not installed: pip install platformio")
    return p


def build_flags(*, mic_gain: int | None = None) -> list[str]:
    """The extra ``-D`` flags for the firmware build (empty for the defaults)."""
    flags = []
    if mic_gain is not None:
        flags.append(f"-DKWS_MIC_GAIN={int(mic_gain)}")
    return flags


def merged_build_flags(flags: list[str], environ=None) -> str | None:
    """``PLATFORMIO_BUILD_FLAGS`` with ``flags`` added after what the user already set (``None``: nothing to set)."""
    environ = os.environ if environ is None else environ
    parts = [environ.get("PLATFORMIO_BUILD_FLAGS", "").strip(), *flags]
    value = " ".join(p for p in parts if p)
    return value or None


def flash(*, board: str, run_path: Path, port: str, dry_run: bool = False, say: Callable[[str], None] = print,
          boot_timeout_s: float = 20.0, baud: int = 921600, mic_gain: int | None = None) -> dict:
    import shlex

    from tinykws.export import build_command, command_line, export_run, verify_model_dir
    from tinykws.export.boards import board as board_info
    from tinykws.paths import build_project_dir
    from tinykws.run import load_run

    b = board_info(board)
    flags = build_flags(mic_gain=mic_gain)
    run = load_run(run_path)
    result = export_run(run_path, board=board)
    for p in result.paths:
        say(f"wrote {p}")
    verify_model_dir(result.model_dir)
    project = build_project_dir()
    pio = find_pio()
    # `auto` is tinykws's word (resolve_port), not PlatformIO's: without --upload-port pio finds the board itself.
    upload_port = None if port == "auto" else port
    cmd = [pio, *build_command(board, project, upload=True, upload_port=upload_port)[1:]]
    pio_flags = merged_build_flags(flags)
    shown_flags = f"PLATFORMIO_BUILD_FLAGS={shlex.quote(pio_flags)} " if flags else ""
    say("$ " + shown_flags + command_line(board, result.model_dir, project, upload_port=upload_port))
    if upload_port is None:
        say("(no --upload-port: PlatformIO finds the board's port at upload time; add --upload-port PORT to choose one)")
    if dry_run:
        return {"command": cmd, "model_dir": result.model_dir, "uploaded": False, "build_flags": pio_flags if flags else None}
    env = {**os.environ, "TINYKWS_MODEL_DIR": str(result.model_dir.resolve())}
    if flags:
        env["PLATFORMIO_BUILD_FLAGS"] = pio_flags
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        say(line.rstrip("\n"))
        tail = (tail + [line])[-20:]
    rc = proc.wait()
    if rc != 0:
        hint = f" ({b.upload_hint})" if b.upload_hint else ""
        busy = any("busy" in l.lower() or "permission denied" in l.lower() for l in tail)
        raise UserError(f"upload to {port} failed (PlatformIO exit {rc})" + (": the port is busy, close other serial programs" if busy else hint))
    say("uploaded; waiting for the board to boot ...")
    boot = wait_for_boot(port, boot_timeout_s, baud)
    from tinykws.board.protocol import check_identity

    native = json.loads((result.model_dir / "model.json").read_text()).get("native") or {}
    check_identity(boot, run.model_sha256, engine="native", weights_crc32=native.get("weights_crc32"),
                   spec_sha256=run.spec.sha256, labels=run.labels, sample_rate=run.spec.sample_rate)
    say(f"board {boot.board} runs model {boot.model[:12]} (matches run {run.name}), arena {boot.arena_used}/{boot.arena_size} bytes")
    return {"command": cmd, "model_dir": result.model_dir, "uploaded": True, "boot": boot,
            "build_flags": pio_flags if flags else None}


def wait_for_boot(port: str, timeout_s: float, baud: int = 921600):
    """Open the port (retrying while the board re-enumerates), ask ``info``, return the Boot/Info line.

    After an upload the board's USB device goes away and comes back (a new port, sometimes under
    the same name): a port that is missing, busy, or vanishes between opening it and reading is
    retried until ``timeout_s``; then one line says what was last seen.
    """
    from tinykws.board.protocol import Boot
    from tinykws.board.serialio import BoardLink, open_port

    end = time.monotonic() + timeout_s
    last_err = None
    while time.monotonic() < end:
        try:
            link = BoardLink(open_port(port, baud), port)
        except UserError as e:
            last_err = e
            time.sleep(0.5)
            continue
        try:
            while time.monotonic() < end:
                link.send(b"info\n")
                boot = link.wait_for(Boot, 1.0)
                if boot is not None:
                    return boot
        except UserError as e:  # the port went away under us: the board is still re-enumerating
            last_err = e
            time.sleep(0.5)
        finally:
            link.close()
    raise UserError(f"no BOOT line from {port} within {timeout_s:.0f} s" + (f" ({last_err})" if last_err else "")
                    + ": is the board running tinykws firmware?")
