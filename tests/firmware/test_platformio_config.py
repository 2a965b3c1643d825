"""platformio.ini parses (offline, with PlatformIO's own parser) and says what the firmware needs.

`pio project config --json-output` merges [env] into each environment without touching the network,
so these checks run anywhere PlatformIO is installed; they skip with a reason where it is not.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENVS = ("env:nano33ble", "env:esp32dev")


def _pio():
    exe = Path(sys.executable).with_name("pio")
    if exe.exists():
        return str(exe)
    return shutil.which("pio") or shutil.which("platformio")


@pytest.fixture(scope="module")
def config():
    pio = _pio()
    if pio is None:
        pytest.skip("platformio is not installed (pip install platformio)")
    p = subprocess.run([pio, "project", "config", "--json-output"], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return {section: dict(items) for section, items in json.loads(p.stdout)}


def test_project_dirs_point_into_firmware(config):
    pio = config["platformio"]
    for key, folder in (("src_dir", "src"), ("lib_dir", "lib"), ("include_dir", "include"), ("test_dir", "test")):
        assert Path(pio[key]) == REPO / "firmware" / folder, key


def test_both_boards_with_the_arduino_framework(config):
    assert config["env:nano33ble"]["board"] == "nano33ble"
    assert config["env:esp32dev"]["board"] == "esp32dev"
    assert config["env:nano33ble"]["platform"].startswith("nordicnrf52@")
    assert config["env:esp32dev"]["platform"].startswith("espressif32@6.")  # 6.x ships Arduino-ESP32 2.0.x
    for env in ENVS:
        assert config[env]["framework"] == ["arduino"]


def test_monitor_speeds(config):
    # Recording streams ~45 kB/s of text: the ESP32's UART needs 921600 (the board's Serial.begin agrees).
    assert config["env:esp32dev"]["monitor_speed"] == 921600
    assert "Serial.begin(921600)" in (REPO / "firmware/src/board_esp32.cpp").read_text()
    assert config["env:nano33ble"]["monitor_speed"] > 0


def test_platforms_and_libraries_are_pinned_exactly(config):
    for env in ENVS:
        assert re.fullmatch(r"[a-z0-9]+@\d+\.\d+\.\d+", config[env]["platform"]), config[env]["platform"]
        deps = config[env]["lib_deps"]
        assert deps, f"{env} has no TFLM library"
        for dep in deps:
            # A git URL pinned to a full commit, or a registry package pinned to an exact version.
            ok = re.search(r"\.git#[0-9a-f]{40}$", dep) or re.search(r"@\s*\d+\.\d+\.\d+$", dep)
            assert ok, f"{env}: {dep!r} is not pinned to an exact version or commit"


def test_each_env_compiles_only_its_own_port(config):
    ports = {"env:nano33ble": "board_nano33ble.cpp", "env:esp32dev": "board_esp32.cpp"}
    for env, own in ports.items():
        flt = " ".join(config[env]["build_src_filter"])
        for other in set(ports.values()) - {own}:
            assert f"-<{other}>" in flt, (env, flt)
        assert f"-<{own}>" not in flt


def test_esp32_i2s_pins_are_build_flags(config):
    flags = " ".join(config["env:esp32dev"]["build_flags"])
    for pin in ("KWS_I2S_SCK", "KWS_I2S_WS", "KWS_I2S_SD"):
        assert re.search(rf"-D{pin}=\d+", flags), pin
    for env in ENVS:
        assert "-Ifirmware/src/model" in config[env]["build_flags"]
