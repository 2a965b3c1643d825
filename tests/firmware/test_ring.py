import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INC = HERE.parents[1] / "firmware" / "lib" / "kws_core" / "include"


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_ring_buffer(tmp_path):
    exe = tmp_path / "ring"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-I", str(INC), str(HERE / "test_ring.c"), "-o", str(exe)], check=True)
    p = subprocess.run([str(exe)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.returncode
