"""scripts/check_board_sources.sh checks each board at its own C++ level: the Nano with the variant's
flags (gnu++14), the ESP32 at gnu++11 like Arduino-ESP32 2.0.x; and the docs name the Nano's compilers right."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = (REPO / "scripts" / "check_board_sources.sh").read_text()


def _commands(compiler: str) -> list[str]:
    """Each invocation of ``compiler`` in the script, continuation lines joined."""
    text = SCRIPT.replace("\\\n", " ")
    return [l for l in text.splitlines() if re.search(rf"(^|\s){re.escape(compiler)}\s", l) and not l.lstrip().startswith("#")]


def test_esp32_sources_are_checked_as_gnu_plus_plus_11():
    esp32 = [c for c in _commands("g++") if "ARDUINO_ARCH_ESP32" in c]
    assert esp32, "no ESP32 check in the script"
    for c in esp32:
        assert re.findall(r"-std=\S+", c) == ["-std=gnu++11"], c


def test_nano_sources_take_gnu_plus_plus_14_from_the_variant():
    nano = _commands("arm-none-eabi-g++")
    assert nano, "no Nano check in the script"
    for c in nano:
        assert '"@$cxxfile"' in c and "-std=" not in c, c  # the level comes from the variant's flags only
    assert 'grep -v -e \'^-c$\' "$var/cxxflags.txt" > "$cxxfile"' in SCRIPT
    assert "Nano 33 BLE -std=gnu++14" in SCRIPT and "ESP32 -std=gnu++11" in SCRIPT


def test_the_nano_compilers_are_named_right():
    for path in ("platformio.ini", "docs/firmware.md", "scripts/check_board_sources.sh"):
        text = (REPO / path).read_text()
        assert "built with GCC 7" not in text and "compiler is GCC 7;" not in text, path
        assert "GCC 7.2.1" in text, path
    for path in ("platformio.ini", "docs/firmware.md"):
        text = (REPO / path).read_text()
        assert "GCC 9 (2019-q4)" in text and "1.70201" in text, path
