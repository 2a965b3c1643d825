"""``tinykws flash``: export, fit check, PlatformIO build and upload, then check what the board runs.

Steps: export the run's model folder into the run (refusing a model that does
not fit the board), run ``pio run -e ENV -t upload --upload-port PORT`` on the
firmware project with ``TINYKWS_MODEL_DIR`` pointing at that folder (the
firmware's sources are never written), stream its output, wait for the board's
BOOT / INFO line and compare its model hash with the run's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from tinykws.errors import UserError


def find_pio() -> str:
    cand = Path(sys.executable).with_name("pio")
    if cand.exists():
        return str(cand)
    p = shutil.which("pio") or shutil.which("platformio")
    if not p:
        raise UserError("PlatformIO is not installed: pip install platformio")
    return p


def flash(*, board: str, run_path: Path, port: str, dry_run: bool = False, say: Callable[[str], None] = print,
          boot_timeout_s: float = 20.0, baud: int = 921600) -> dict:
    from tinykws.export import build_command, command_line, export_run
    from tinykws.export.boards import board as board_info
    from tinykws.paths import build_project_dir
    from tinykws.run import load_run

    b = board_info(board)
    run = load_run(run_path)
    result = export_run(run_path, board=board)
    for p in result.paths:
        say(f"wrote {p}")
    project = build_project_dir()
    pio = find_pio()
    cmd = [pio, *build_command(board, project, upload=True, upload_port=port)[1:]]
    say("$ " + command_line(board, result.model_dir, project, upload_port=port))
    if dry_run:
        return {"command": cmd, "model_dir": result.model_dir, "uploaded": False}
    env = {**os.environ, "TINYKWS_MODEL_DIR": str(result.model_dir.resolve())}
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

    check_identity(boot, run.model_sha256)
    say(f"board {boot.board} runs model {boot.model[:12]} (matches run {run.name}), arena {boot.arena_used}/{boot.arena_size} bytes")
    return {"command": cmd, "model_dir": result.model_dir, "uploaded": True, "boot": boot}


def wait_for_boot(port: str, timeout_s: float, baud: int = 921600):
    """Open the port (retrying while the board re-enumerates), ask ``info``, return the Boot/Info line."""
    from tinykws.board.protocol import Boot
    from tinykws.board.serialio import BoardLink, open_port

    end = time.monotonic() + timeout_s
    last_err = None
    while time.monotonic() < end:
        try:
            link = BoardLink(open_port(port, baud))
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
        finally:
            link.close()
    raise UserError(f"no BOOT line from {port} within {timeout_s:.0f} s" + (f" ({last_err})" if last_err else "")
                    + ": is the board running tinykws firmware?")
