"""The firmware ships inside the wheel, so `tinykws flash` works from an installed package."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_wheel_contains_firmware_and_platformio_ini(tmp_path):
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob("tinykws-*.whl"))).namelist()
    for f in ("tinykws/_firmware/platformio.ini", "tinykws/_firmware/firmware/src/main.cpp",
              "tinykws/_firmware/firmware/lib/kws_core/src/kws_mfcc.c", "tinykws/_firmware/firmware/src/model/kws_model.cc",
              "tinykws/_firmware/firmware/lib/kws_core/include/kws_feature_spec.h"):
        assert f in names, f
