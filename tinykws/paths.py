"""Where tinykws finds its own files and keeps its caches.

Two kinds of place, each named once here:

- **Caches** (rebuildable, never precious): ``$TINYKWS_CACHE`` or
  ``~/.cache/tinykws``, one sub-folder per user of it (``features``, ``native``,
  ``firmware-<version>``). :func:`cache_dir` is the only code that knows the root.
- **The firmware sources**: a checkout's ``firmware/`` and ``platformio.ini``, or
  the copy shipped inside the installed package (``tinykws/_firmware/``, made by
  ``setup.py``). Nothing tinykws runs ever writes into either: exports go into the
  run folder, PlatformIO builds from a writable copy when the package is installed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tinykws.errors import UserError

PACKAGE_DIR = Path(__file__).resolve().parent
#: A checkout's root (holds platformio.ini and firmware/) when tinykws runs from one.
CHECKOUT_DIR = PACKAGE_DIR.parent
#: The firmware tree shipped inside an installed package.
PACKAGED_PROJECT_DIR = PACKAGE_DIR / "_firmware"


def cache_dir(*parts: str) -> Path:
    """``$TINYKWS_CACHE/<parts>`` (default ``~/.cache/tinykws/<parts>``); not created."""
    base = os.environ.get("TINYKWS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tinykws")
    return Path(base).joinpath(*parts)


def _is_project(d: Path) -> bool:
    return (d / "platformio.ini").is_file() and (d / "firmware" / "lib" / "kws_core" / "src").is_dir()


def source_project_dir() -> Path:
    """The PlatformIO project tinykws ships (read-only use): the checkout's, else the packaged copy."""
    for d in (CHECKOUT_DIR, PACKAGED_PROJECT_DIR):
        if _is_project(d):
            return d
    raise UserError("the firmware sources are missing from this installation: reinstall tinykws")


def core_source_dir() -> Path:
    """``firmware/lib/kws_core``: the portable C core the board and the host build compile."""
    return source_project_dir() / "firmware" / "lib" / "kws_core"


def default_model_dir() -> Path:
    """``firmware/model``: the shipped default model (generated files, written only by hand)."""
    return source_project_dir() / "firmware" / "model"


def qemu_source_dir() -> Path:
    """``firmware/test/qemu``: startup code, linker script and main of the Cortex-M4F self-test image."""
    return source_project_dir() / "firmware" / "test" / "qemu"


def board_flags_file(board: str = "nano33ble") -> Path:
    """``firmware/board_flags/<board>.txt``: the compiler flags the board's real PlatformIO build uses."""
    return source_project_dir() / "firmware" / "board_flags" / f"{board}.txt"


def build_project_dir() -> Path:
    """A PlatformIO project folder that PlatformIO may write into (``.pio/``).

    A checkout builds in place (its ``.pio/`` is git-ignored). An installed
    package's copy may sit in a read-only site-packages, so it is copied once per
    version into :func:`cache_dir` ``("firmware-<version>")``.
    """
    from tinykws import __version__

    src = source_project_dir()
    if src == CHECKOUT_DIR:
        return src
    work = cache_dir(f"firmware-{__version__}")
    if not _is_project(work):
        tmp = work.with_name(work.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        os.replace(tmp, work)
    return work
