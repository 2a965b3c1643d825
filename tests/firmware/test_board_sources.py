"""The board-independent firmware sources agree with the core's API (host g++, gnu++14 like the Nano's GCC 7).

main.cpp is checked with a two-line stand-in for Arduino.h; the board ports and the TFLM glue need the
real Arduino cores and TFLM library (scripts/check_board_sources.sh, with local copies of them).
platformio.ini is checked in test_platformio_config.py.
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



@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_esp32_port_against_the_standin_headers():
    # scripts/esp32_standin declares the Arduino-ESP32 2.0.x / ESP-IDF 4.4 API the port uses (see its README).
    cmd = ["g++", "-std=gnu++14", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
           "-I", str(REPO / "scripts/esp32_standin"), "-I", str(REPO / "firmware/lib/kws_core/include"),
           "-I", str(REPO / "firmware/src"), "-DKWS_I2S_SCK=26", "-DKWS_I2S_WS=25", "-DKWS_I2S_SD=33",
           str(REPO / "firmware/src/board_esp32.cpp")]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
