"""A dataset of one to three voices trains: labels that cannot be split by speaker are split by take, said once."""

import json
import shutil
import subprocess
import sys

from tests.helpers import make_tone_dataset
from tinykws.data.dataset import SPLITS, discover


def test_one_speaker_dataset_trains_split_by_take(tmp_path):
    ds = make_tone_dataset(tmp_path / "mine", speakers=1, per_word=20, noise_s=8.0)
    p = subprocess.run([sys.executable, "-m", "tinykws", "train", str(ds), "--words", "up,down", "--arch", "ds-cnn-xs",
                        "--epochs", "1", "--stream-minutes", "0.1", "--no-synth-keywords", "--no-near-misses",
                        "--hard-negative-rounds", "0", "--no-stream-checkpoint", "--no-teacher", "--out", str(tmp_path / "runs")],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    notices = [l for l in (p.stdout + p.stderr).splitlines() if "split by take" in l]
    assert len(notices) == 1, p.stdout
    assert "other voices will be heard worse" in notices[0] and "tinykws record --speaker" in notices[0]
    (run,) = [d for d in (tmp_path / "runs").iterdir() if not d.name.startswith(".")]
    report = json.loads((run / "report.json").read_text())
    assert report["data"]["split"] == "by take"
    for label in ("up", "down"):
        assert all(report["data"]["counts"][s][label] > 0 for s in SPLITS), report["data"]["counts"]
    assert "speakers not seen in training" not in (run / "report.md").read_text()


def test_speaker_split_kept_where_there_are_enough_speakers_and_takes_never_move(tone_dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tone_dataset, root)
    make_tone_dataset(tmp_path / "alice", speakers=1, per_word=20, noise_s=1.0)
    shutil.rmtree(root / "flat")
    shutil.copytree(tmp_path / "alice" / "flat", root / "flat")  # one voice only
    ds = discover(root, ["up", "flat"])
    assert ds.split_method == "by speaker; by take for flat"
    assert sum("split by take for flat" in n for n in ds.notes) == 1
    by_split = {s: {e.speaker for e in ds.examples if e.split == s and e.label == "up"} for s in SPLITS}
    assert not by_split["train"] & (by_split["validation"] | by_split["test"])
    flat = {e.rel: e.split for e in ds.examples if e.label == "flat"}
    assert set(flat.values()) == set(SPLITS)
    # More takes of the same voice: no old take changes split.
    for k in range(20, 40):
        shutil.copy(root / "flat" / "spk000_nohash_0.wav", root / "flat" / f"spk000_nohash_{k}.wav")
    again = {e.rel: e.split for e in discover(root, ["up", "flat"]).examples if e.label == "flat"}
    assert all(again[r] == s for r, s in flat.items())
