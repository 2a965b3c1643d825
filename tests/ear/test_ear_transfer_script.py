"""scripts/ear_transfer.py: a user's bad folder is one error line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_folder_that_is_no_dataset_is_one_error_line(tmp_path):
    (tmp_path / "mini").mkdir()  # no label folders
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "ear_transfer.py"), "--mini", str(tmp_path / "mini"),
                        "--dev", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [f"error: {tmp_path / 'mini'}: no label folders (expected DATASET/<label>/*.wav)"]
