"""Export refuses, before any build, a model that does not fit the board."""

import shutil
import subprocess
import sys

import pytest

from tinykws.errors import UserError
from tinykws.export.boards import BOARDS, check_fit, ensure_fits

OPS = ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]


def test_the_default_model_fits_both_boards():
    for b in BOARDS:
        assert check_fit(b, 48_000, 27_000, OPS).fits


def test_oversized_model_is_refused_with_the_overshoot():
    with pytest.raises(UserError, match=r"does not fit nano33ble.*model 900,000 bytes.*over"):
        ensure_fits("nano33ble", 900_000, 27_000, OPS)
    with pytest.raises(UserError, match=r"tensor arena 300,000 bytes"):
        ensure_fits("esp32dev", 48_000, 300_000, OPS)


def test_unsupported_op_is_refused():
    with pytest.raises(UserError, match="UNIDIRECTIONAL_SEQUENCE_LSTM"):
        ensure_fits("nano33ble", 48_000, 27_000, OPS + ["UNIDIRECTIONAL_SEQUENCE_LSTM"])


def test_unknown_board():
    with pytest.raises(UserError, match="unknown board"):
        check_fit("uno", 1, 1, [])


def test_export_cli_checks_the_board(tiny_run, tmp_path):
    repo_fw = __import__("pathlib").Path(__file__).resolve().parents[2] / "firmware"
    fw = tmp_path / "firmware"
    shutil.copytree(repo_fw, fw)
    p = subprocess.run([sys.executable, "-m", "tinykws", "export", str(tiny_run), "--board", "nano33ble", "--firmware", str(fw)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "fits nano33ble" in p.stdout
    assert tiny_run.name in (fw / "src" / "model" / "kws_model.h").read_text()


def test_export_refuses_when_budget_is_too_small(tiny_run, tmp_path, monkeypatch):
    from dataclasses import replace

    from tinykws.export import export_run
    from tinykws.export import boards

    monkeypatch.setitem(boards.BOARDS, "nano33ble", replace(boards.BOARDS["nano33ble"], flash_reserved_bytes=983_040 - 1000))
    fw = tmp_path / "fw"
    (fw / "src" / "model").mkdir(parents=True)
    with pytest.raises(UserError, match="does not fit nano33ble"):
        export_run(tiny_run, fw, board="nano33ble")
    assert not any((fw / "src" / "model").iterdir())  # nothing written
