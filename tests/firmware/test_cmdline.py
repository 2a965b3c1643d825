import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CORE = HERE.parents[1] / "firmware" / "lib" / "kws_core"


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_command_line_assembly(tmp_path):
    exe = tmp_path / "cmdline"
    sources = [HERE / "test_cmdline.c", CORE / "src" / "kws_cmdline.c", CORE / "src" / "kws_protocol.c"]
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(CORE / "include"),
                    *map(str, sources), "-o", str(exe)], check=True)
    p = subprocess.run([str(exe)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stdout
