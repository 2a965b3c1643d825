"""Export refuses, before any build, a model that does not fit the board (flash, RAM, ops)."""

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


def test_budgets_match_platformio_boards():
    # upload.maximum_size / maximum_ram_size of PlatformIO's nano33ble board; esp32dev's default app partition.
    assert (BOARDS["nano33ble"].flash_bytes, BOARDS["nano33ble"].ram_bytes) == (983_040, 262_144)
    assert (BOARDS["esp32dev"].flash_bytes, BOARDS["esp32dev"].ram_bytes) == (1_310_720, 327_680)
    for b in BOARDS.values():
        assert 0 < b.model_flash_bytes < b.flash_bytes and 0 < b.arena_ram_bytes < b.ram_bytes
    assert SUPPORTED_OPS == set(RESOLVER_METHODS)  # one op table, shared with the generated KWS_MODEL_OPS


def test_a_small_model_fits_both_boards_with_headroom_reported():
    for name in BOARDS:
        r = check_fit(name, 48_000, 27_000, OPS)
        assert r.fits and r.problems == ()
        b = BOARDS[name]
        text = "\n".join(r.lines)
        assert f"{b.model_flash_bytes - 48_000:,} bytes headroom" in text
        assert f"{b.arena_ram_bytes - 27_000:,} bytes headroom" in text
        assert ensure_fits(name, 48_000, 27_000, OPS) == r


def test_exactly_full_still_fits_one_byte_more_does_not():
    b = BOARDS["nano33ble"]
    assert check_fit("nano33ble", b.model_flash_bytes, b.arena_ram_bytes, OPS).fits
    r = check_fit("nano33ble", b.model_flash_bytes + 1, b.arena_ram_bytes, OPS)
    assert not r.fits and "(1 bytes over)" in r.problems[0]


def test_oversized_model_is_refused_with_the_overshoot():
    over = 900_000 - BOARDS["nano33ble"].model_flash_bytes
    with pytest.raises(UserError, match=rf"does not fit nano33ble: flash: .*900,000 bytes.*\({over:,} bytes over\)"):
        ensure_fits("nano33ble", 900_000, 27_000, OPS)
    over = 300_000 - BOARDS["esp32dev"].arena_ram_bytes
    with pytest.raises(UserError, match=rf"RAM: the tensor arena's 300,000 bytes.*\({over:,} bytes over\)"):
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
