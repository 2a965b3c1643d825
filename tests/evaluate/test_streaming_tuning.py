"""Streaming evaluation through the C core: scoring rules, replay equivalence, threshold tuning."""

import json

import pytest

from tinykws.evaluate.streaming import Detection, Event, score_detections
from tinykws.evaluate.tuning import pick_operating_point, tune_run


def test_scoring_rules():
    ev = [Event("yes", 1.0, 1.5, "a"), Event("_unknown_", 3.0, 3.5, "b"), Event("no", 5.0, 5.4, "c")]
    dets = [Detection(1.2, "yes", 0.9),   # hit
            Detection(2.3, "yes", 0.9),   # second detection of the same clip: false accept
            Detection(3.2, "yes", 0.8),   # during an unknown word: false accept
            Detection(5.9, "yes", 0.8)]   # wrong label: false accept; "no" is missed
    s = score_detections(ev, dets, hours=0.5)
    assert (s["hits"], s["false_rejects"], s["false_accepts"]) == (1, 1, 3)
    assert s["false_accepts_per_hour"] == 6.0 and s["hit_rate"] == 0.5


def test_operating_point():
    sweep = [{"threshold": 0.5, "false_reject_rate": 0.05, "false_accepts_per_hour": 9.0},
             {"threshold": 0.7, "false_reject_rate": 0.10, "false_accepts_per_hour": 1.5},
             {"threshold": 0.9, "false_reject_rate": 0.30, "false_accepts_per_hour": 0.0}]
    assert pick_operating_point(sweep, 2.0)["threshold"] == 0.7
    assert pick_operating_point(sweep, -1) is None


def test_streaming_on_the_tiny_run(tiny_run, tone_dataset, tmp_path):
    import shutil

    from tinykws.run import load_run

    tiny_run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)  # the session's run stays untouched

    res = tune_run(load_run(tiny_run), tone_dataset, hours=0.03, seed=1, target_fa_per_hour=1000)
    assert res["replay_matches_core"]
    assert res["keywords_spoken"] > 10 and res["inferences"] > 900
    assert res["hits"] + res["false_rejects"] == res["keywords_spoken"]
    assert res["chosen"] is not None
    run = load_run(tiny_run)
    assert run.recognizer.threshold == res["chosen"]["threshold"]
    assert (tiny_run / "threshold_sweep.png").is_file()
    # A lower threshold never detects fewer keywords.
    hits = [p["hits"] for p in sorted(res["sweep"], key=lambda p: p["threshold"])]
    assert hits == sorted(hits, reverse=True)
