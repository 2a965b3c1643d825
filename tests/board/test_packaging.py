"""The firmware ships inside the wheel, so `tinykws flash` and the host build work from an installed package."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_carries_the_whole_firmware_and_finds_it(tmp_path):
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    wheel = zipfile.ZipFile(next(tmp_path.glob("tinykws-*.whl")))
    names = set(wheel.namelist())
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "firmware", "platformio.ini"], capture_output=True,
                             text=True, check=True).stdout.split()
    assert "firmware/model/kws_model.cc" in tracked and "firmware/ports/nano33ble/port_nano33ble.cpp" in tracked
    missing = [f for f in tracked if f"tinykws/_firmware/{f}" not in names]
    assert not missing, missing
    # Every module of the package, in every stage folder.
    modules = [str(p.relative_to(REPO)) for p in (REPO / "tinykws").rglob("*.py") if "_firmware" not in p.parts]
    assert "tinykws/boardcode/native.py" in modules
    assert not [m for m in modules if m not in names]
    assert not any("/.pio/" in n for n in names)
    # The pretrained encoder `tinykws train --encoder pretrained` starts from is package data.
    assert {"tinykws/model/encoders/ds-cnn-s.weights.npz", "tinykws/model/encoders/ds-cnn-s.json"} <= names

    # Installed (here: unpacked, away from any checkout), tinykws finds its own copy of the sources.
    site = tmp_path / "site"
    wheel.extractall(site)
    probe = ("import tinykws.boardcode.native, tinykws.evaluate.tuning, tinykws.features.cache; from tinykws import paths; "
             "print(paths.source_project_dir()); print(paths.core_source_dir()); print(paths.default_model_dir())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr[-1000:]
    project, core, model = (Path(l) for l in out.stdout.split())
    assert project == site / "tinykws" / "_firmware"
    assert (core / "src" / "kws_mfcc.c").is_file() and (model / "kws_model.h").is_file()
