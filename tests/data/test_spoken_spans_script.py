"""scripts/spoken_spans.py: a word's spoken span on real speech, at several cut levels."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_real_words_keep_their_weak_sounds(shared_speech):
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "spoken_spans.py"), str(shared_speech), "--db", "10", "30"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rows = {ln.split()[0]: ln.split()[1:] for ln in p.stdout.splitlines()[2:]}
    for word in ("off", "stop", "up", "yes"):
        n, at10, at30 = int(rows[word][0]), float(rows[word][1]), float(rows[word][2])
        # Spoken words of Speech Commands last about half a second; a 10 dB cut leaves their vowel.
        assert n > 5 and at30 >= 0.4 and at10 < 0.25


def test_a_missing_dataset_is_a_one_line_error(tmp_path):
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "spoken_spans.py"), str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip().startswith("error: dataset folder not found") and "Traceback" not in p.stderr
