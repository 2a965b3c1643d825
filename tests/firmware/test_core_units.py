"""Small C units of the core, built with the host compiler and run: the serial write policy (kws_txgate)
and the microphone DC blocker (kws_dcblock)."""

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CORE = HERE.parents[1] / "firmware" / "lib" / "kws_core"


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("unit", ["txgate", "dcblock"])
def test_core_unit(tmp_path, unit):
    exe = tmp_path / unit
    subprocess.run(["cc", "-std=c99", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror", "-I", str(CORE / "include"),
                    str(HERE / f"test_{unit}.c"), str(CORE / "src" / f"kws_{unit}.c"), "-o", str(exe), "-lm"],
                   check=True)
    p = subprocess.run([str(exe)], capture_output=True, text=True)
    print(p.stdout)
    assert p.returncode == 0 and p.stdout.startswith("ok"), p.returncode
