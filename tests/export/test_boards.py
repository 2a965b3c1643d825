"""Export refuses, before any build, a model that does not fit the board (flash, RAM, ops)."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tinykws.errors import UserError
from tinykws.export import boards
from tinykws.export.boards import BOARDS, SUPPORTED_OPS, check_fit, ensure_fits
from tinykws.export.carray import RESOLVER_METHODS

REPO = Path(__file__).resolve().parents[2]
OPS = ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]


# Where PlatformIO keeps installed platforms: the user's core dir, or the offline Nano build's cache.
PIO_PLATFORM_DIRS = [Path(os.environ["PLATFORMIO_CORE_DIR"]) / "platforms"] if "PLATFORMIO_CORE_DIR" in os.environ else []
PIO_PLATFORM_DIRS += [Path.home() / ".platformio" / "platforms", Path("/tmp/tinykws-pio/pio-core/platforms")]

# The ESP-IDF "Memory Types" guide (api-guides/memory-types.html, ESP32): statically allocated DRAM
# is limited to about 160 KB; the rest of the 320 KB of DRAM is heap only.
ESP_IDF_STATIC_DRAM_LIMIT = 160 * 1024


def _pio_board(platform: str, name: str) -> dict | None:
    for d in PIO_PLATFORM_DIRS:
        f = d / platform / "boards" / f"{name}.json"
        if f.is_file():
            return json.loads(f.read_text())
    return None


# The PlatformIO board files, as committed facts (read from platformio/platform-nordicnrf52
# boards/nano33ble.json and platformio/platform-espressif32 boards/esp32dev.json; the fields have been
# the same across the pinned releases). esp32dev's maximum_size is the whole 4 MB flash: PlatformIO
# takes the app's limit from the partition table at build time (default.csv: app0 0x140000 B).
PIO_BOARD_FACTS = {
    "nano33ble": {"f_cpu": 64_000_000, "maximum_size": 983_040, "maximum_ram_size": 262_144, "app_bytes": 983_040},
    "esp32dev": {"f_cpu": 240_000_000, "maximum_size": 4_194_304, "maximum_ram_size": 327_680, "app_bytes": 0x140000},
}
PIO_PLATFORMS = {"nano33ble": "nordicnrf52", "esp32dev": "espressif32"}

# The real PlatformIO build of env nano33ble with the shipped model and the native engine
# (`bash ../shared/tools/pio-offline-nano33ble.sh`, PlatformIO's size report): RAM 91,712 B, flash
# 177,692 B with the TFLM library in lib_deps; 91,608 B and 177,644 B without it (2026-12-02). Rebuild
# and update these when the firmware or the shipped model changes.
NANO_BUILD = {"ram_bytes": 91_608, "flash_bytes": 177_644}


@pytest.mark.parametrize("name", sorted(PIO_BOARD_FACTS))
def test_budgets_match_platformio_boards(name):
    facts, b = PIO_BOARD_FACTS[name], BOARDS[name]
    assert b.flash_bytes == facts["app_bytes"] <= facts["maximum_size"]
    assert b.ram_bytes == facts["maximum_ram_size"]
    assert b.cpu.clock_hz == facts["f_cpu"]
    pio = _pio_board(PIO_PLATFORMS[name], name)
    if pio is not None:  # where PlatformIO's platform is installed, the committed facts are its own
        assert int(pio["upload"]["maximum_size"]) == facts["maximum_size"]
        assert int(pio["upload"]["maximum_ram_size"]) == facts["maximum_ram_size"]
        assert int(str(pio["build"]["f_cpu"]).rstrip("L")) == facts["f_cpu"]


def test_the_nano_reserves_cover_the_real_build():
    """What the real build uses besides the model fits the reserves the export counts on, and the
    shipped model's export passes with what is left."""
    import json

    from tinykws.paths import default_model_dir

    native = json.loads((default_model_dir() / "model.json").read_text())["native"]
    b = BOARDS["nano33ble"]
    assert NANO_BUILD["ram_bytes"] - native["ram_bytes"] <= b.ram_reserved_bytes
    assert NANO_BUILD["flash_bytes"] - native["weights_bytes"] <= b.flash_reserved_bytes + boards.ENGINE_CODE_BYTES["native"]
    assert NANO_BUILD["ram_bytes"] <= b.ram_bytes and NANO_BUILD["flash_bytes"] <= b.flash_bytes


def test_budgets_are_consistent():
    for b in BOARDS.values():
        assert 0 < b.engine_flash_bytes("native") < b.flash_bytes
        assert 0 < b.static_data_bytes < b.ram_bytes
        assert b.cpu is not None and b.cpu.clock_hz > 0
    assert SUPPORTED_OPS == set(RESOLVER_METHODS)  # one op table, shared with the generated KWS_MODEL_OPS


def test_esp32_static_data_stays_within_static_dram():
    b = BOARDS["esp32dev"]
    # The linker's static segment is below ESP-IDF's documented static limit; the native engine's RAM is
    # static data, so it has what is left of that segment after the firmware's own.
    assert b.static_ram_bytes == boards.ESP32_STATIC_DRAM_BYTES <= ESP_IDF_STATIC_DRAM_LIMIT
    assert b.static_data_bytes == b.static_ram_bytes - b.ram_reserved_bytes
    assert check_fit("esp32dev", 48_000, b.static_data_bytes, OPS).fits
    r = check_fit("esp32dev", 48_000, b.static_data_bytes + 100, OPS)
    assert not r.fits and "(100 bytes over)" in r.problems[0] and f"{b.static_ram_bytes:,} for static data" in r.problems[0]


def test_a_small_model_fits_both_boards_with_headroom_reported():
    for name in BOARDS:
        r = check_fit(name, 48_000, 27_000, OPS)
        assert r.fits and r.problems == ()
        b = BOARDS[name]
        text = "\n".join(r.lines)
        assert f"{b.engine_flash_bytes() - 48_000:,} bytes headroom" in text
        assert f"{b.static_data_bytes - 27_000:,} bytes headroom" in text
        assert ensure_fits(name, 48_000, 27_000, OPS) == r


def test_native_engine_counts_its_own_code_and_ram():
    b = BOARDS["nano33ble"]
    r = check_fit("nano33ble", 50_000, 11_000, OPS, engine="native")
    assert check_fit("nano33ble", 50_000, 11_000, OPS) == r  # the default: the firmware's only engine
    text = "\n".join(r.lines)
    assert r.fits and f"{b.engine_flash_bytes('native') - 50_000:,} bytes headroom" in text
    assert "RAM: native engine 11,000 of" in text and "for the native engine]" in text
    for other in ("cmsis", "tflm"):
        with pytest.raises(UserError, match=f"unknown engine '{other}'; choose one of native$"):
            check_fit("nano33ble", 1, 1, OPS, engine=other)


def test_exactly_full_still_fits_one_byte_more_does_not():
    b = BOARDS["nano33ble"]
    assert check_fit("nano33ble", b.engine_flash_bytes(), b.static_data_bytes, OPS).fits
    r = check_fit("nano33ble", b.engine_flash_bytes() + 1, b.static_data_bytes, OPS)
    assert not r.fits and "(1 bytes over)" in r.problems[0]
    r = check_fit("nano33ble", b.engine_flash_bytes(), b.static_data_bytes + 1, OPS)
    assert not r.fits and "(1 bytes over)" in r.problems[0]


def test_oversized_model_is_refused_with_the_overshoot():
    over = 900_000 - BOARDS["nano33ble"].engine_flash_bytes()
    with pytest.raises(UserError, match=rf"does not fit nano33ble: flash: .*900,000 bytes.*\({over:,} bytes over\)"):
        ensure_fits("nano33ble", 900_000, 27_000, OPS)
    over = 300_000 - BOARDS["esp32dev"].static_data_bytes
    with pytest.raises(UserError, match=rf"RAM: the native engine's 300,000 bytes.*\({over:,} bytes over\)"):
        ensure_fits("esp32dev", 48_000, 300_000, OPS)


def test_every_problem_is_named_at_once():
    r = check_fit("nano33ble", 10**7, 10**7, OPS + ["LSTM"])
    assert not r.fits
    assert [p.split(":")[0] for p in r.problems] == ["flash", "RAM", "ops"]


def test_unsupported_op_is_refused():
    with pytest.raises(UserError, match=r"ops: the firmware cannot run LSTM \("):
        ensure_fits("nano33ble", 48_000, 27_000, OPS + ["LSTM"])


def test_unknown_board():
    with pytest.raises(UserError, match="unknown board 'uno'; choose one of nano33ble, esp32dev"):
        check_fit("uno", 1, 1, [])


def test_export_cli_checks_the_board(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    p = subprocess.run([sys.executable, "-m", "tinykws", "export", str(run), "--board", "nano33ble"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "fits nano33ble" in p.stdout
    assert run.name in (run / "firmware" / "kws_model.h").read_text()
    # The command to build it by hand names the model folder and the board's environment.
    assert f"TINYKWS_MODEL_DIR={run / 'firmware'} pio run -d " in p.stdout and "-e nano33ble -t upload" in p.stdout


def test_export_refuses_when_the_budget_is_too_small(tiny_run, tmp_path, monkeypatch):
    from tinykws.export import export_run

    # Leave 1000 bytes of flash for the model: the tiny run's flatbuffer is larger.
    monkeypatch.setitem(boards.BOARDS, "nano33ble",
                        replace(boards.BOARDS["nano33ble"], flash_reserved_bytes=983_040 - 1000))
    fw = tmp_path / "fw"
    fw.mkdir()
    with pytest.raises(UserError, match=r"does not fit nano33ble: flash: .*bytes over"):
        export_run(tiny_run, fw, board="nano33ble")
    assert not any(fw.iterdir())  # nothing written
