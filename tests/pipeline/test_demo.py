"""The demo end to end, shrunk (few voices, few epochs): it must run and write a complete run."""

import json
import subprocess
import sys


def test_demo_small(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tinykws", "demo", "--data", str(tmp_path / "data"), "--out",
                        str(tmp_path / "runs"), "--variants", "12", "--epochs", "2"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "accuracy float / int8 (TFLM)" in p.stdout
    assert "Traceback" not in p.stderr
    run = next((tmp_path / "runs").iterdir())
    r = json.loads((run / "report.json").read_text())
    assert r["demo"]["synthetic"] is True
    assert r["data"]["labels"] == ["yes", "no", "up", "down", "_unknown_", "_silence_"]
    assert (run / "firmware" / "kws_model.cc").is_file()
    # A second demo reuses the dataset; a foreign folder is refused with a clear error.
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x.txt").write_text("mine")
    p = subprocess.run([sys.executable, "-m", "tinykws", "demo", "--data", str(tmp_path / "foreign"), "--out", str(tmp_path / "r2")],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 2 and "not made by this demo" in p.stderr
    assert (tmp_path / "foreign" / "x.txt").read_text() == "mine"
