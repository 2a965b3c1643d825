"""The board-independent firmware sources agree with the core's API (host g++, gnu++14 like the Nano's GCC 7).

main.cpp is checked with a two-line stand-in for Arduino.h; the board ports and the TFLM glue need the
real Arduino cores and TFLM library (scripts/check_board_sources.sh, with local copies of them).
"""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_main_wires_the_core_api(tmp_path):
    (tmp_path / "Arduino.h").write_text("#pragma once\n#include <stdint.h>\n#include <stddef.h>\n")
    cmd = ["g++", "-std=gnu++14", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path),
           "-I", str(REPO / "firmware/lib/kws_core/include"), "-I", str(REPO / "firmware/src"),
           "-I", str(REPO / "firmware/src/model"), str(REPO / "firmware/src/main.cpp")]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_core_compiles_as_cpp_too(tmp_path):
    # PlatformIO may build the library with a C++ toolchain's flags; keep the core valid C++ as well.
    for src in (REPO / "firmware/lib/kws_core/src").glob("*.c"):
        p = subprocess.run(["g++", "-x", "c++", "-std=gnu++14", "-fsyntax-only", "-Wall", "-I",
                            str(REPO / "firmware/lib/kws_core/include"), str(src)], capture_output=True, text=True)
        assert p.returncode == 0, (src.name, p.stderr)


def test_platformio_config_parses():
    import json
    import sys

    pio = Path(sys.executable).with_name("pio")
    if not pio.exists():
        pio = shutil.which("pio")
    if not pio:
        pytest.skip("platformio is not installed")
    p = subprocess.run([str(pio), "project", "config", "--json-output"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    cfg = {k: dict(v) for k, v in json.loads(p.stdout)}
    assert cfg["platformio"]["src_dir"].endswith("firmware/src")
    assert cfg["platformio"]["lib_dir"].endswith("firmware/lib")
    assert cfg["env:nano33ble"]["board"] == "nano33ble" and cfg["env:esp32dev"]["board"] == "esp32dev"
    assert cfg["env:esp32dev"]["monitor_speed"] == 921600
    for env in ("env:nano33ble", "env:esp32dev"):
        assert "@" in cfg[env]["platform"], "platform versions are pinned"
        assert all("#" in d or "@" in d for d in cfg[env]["lib_deps"]), "libraries are pinned"
    flags = " ".join(cfg["env:esp32dev"]["build_flags"])
    for pin in ("KWS_I2S_SCK", "KWS_I2S_WS", "KWS_I2S_SD"):
        assert pin in flags
