"""``tinykws flash``: export, fit check, PlatformIO build and upload, then check what the board runs.

Steps: write the run's model into the firmware tree (refusing a model that does
not fit the board), run ``pio run -e ENV -t upload --upload-port PORT`` with its
output streamed, wait for the board's BOOT / INFO line and compare its model
hash with the run's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from tinykws.errors import UserError


def firmware_root() -> Path:
    """The PlatformIO project (folder holding platformio.ini and firmware/).

    A checkout's own tree when tinykws runs from one; otherwise the copy shipped
    inside the installed package, copied once per version into a writable folder
    (``~/.cache/tinykws/firmware-<version>``) because export and PlatformIO write there.
    """
    from tinykws import __version__

    here = Path(__file__).resolve().parents[2]
    if (here / "platformio.ini").is_file() and (here / "firmware" / "src").is_dir():
        return here
    packaged = Path(__file__).resolve().parents[1] / "_firmware"
    if (packaged / "platformio.ini").is_file():
        import os

        base = Path(os.environ.get("TINYKWS_CACHE") or Path.home() / ".cache" / "tinykws")
        work = base / f"firmware-{__version__}"
        if not (work / "platformio.ini").is_file():
            tmp = work.with_name(work.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(packaged, tmp)
            os.replace(tmp, work)
        return work
    raise UserError("the firmware sources were not found in this installation: reinstall tinykws")


def find_pio() -> str:
    cand = Path(sys.executable).with_name("pio")
    if cand.exists():
        return str(cand)
    p = shutil.which("pio") or shutil.which("platformio")
    if not p:
        raise UserError("PlatformIO is not installed: pip install platformio")
    return p


def upload_command(board: str, port: str, project: Path, pio: str) -> list[str]:
    from tinykws.export.boards import board as budget

    return [pio, "run", "-d", str(project), "-e", budget(board).env, "-t", "upload", "--upload-port", port]


def flash(*, board: str, run_path: Path, port: str, dry_run: bool = False, say: Callable[[str], None] = print,
          boot_timeout_s: float = 20.0, baud: int = 921600) -> dict:
    from tinykws.export import export_run
    from tinykws.export.boards import board as budget
    from tinykws.run import load_run

    b = budget(board)
    run = load_run(run_path)
    project = firmware_root()
    for p in export_run(run_path, project / "firmware", board=board):
        say(f"wrote {p}")
    pio = find_pio()
    cmd = upload_command(board, port, project, pio)
    say("$ " + " ".join(cmd))
    if dry_run:
        return {"command": cmd, "uploaded": False}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
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
    return {"command": cmd, "uploaded": True, "boot": boot}


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
