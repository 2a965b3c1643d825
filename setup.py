"""Packaging hook: ship the firmware (and platformio.ini) inside the wheel.

`tinykws flash` and the host build of the firmware core need the C/C++ sources
from an installed package too, not only from a git checkout; they are copied to
``tinykws/_firmware/`` at build time. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithFirmware(build_py):
    def run(self):
        super().run()
        root = Path(__file__).resolve().parent
        dest = Path(self.build_lib) / "tinykws" / "_firmware"
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(root / "firmware", dest / "firmware", ignore=shutil.ignore_patterns(".pio", "*.o", "*.elf", "__pycache__", "*.pyc"))
        shutil.copy(root / "platformio.ini", dest / "platformio.ini")


setup(cmdclass={"build_py": BuildPyWithFirmware})
