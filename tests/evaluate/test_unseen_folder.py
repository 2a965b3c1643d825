"""`tinykws evaluate RUN OTHER --streaming`: other people's takes, heard as one stream of every clip at the run's point."""

import json
import subprocess
import sys


def _evaluate(*args):
    return subprocess.run([sys.executable, "-m", "tinykws", "evaluate", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_a_folder_the_run_never_saw_is_one_stream_of_all_its_clips(tiny_run, tmp_path):
    from tests.helpers import make_tone_dataset
    from tinykws.data.dataset import discover

    other = make_tone_dataset(tmp_path / "others", speakers=6, seed=5)
    p = _evaluate(tiny_run, other, "--streaming", "--stream-minutes", "0.3", "--json")
    assert p.returncode == 0, p.stderr[-2000:]
    sec = json.loads(p.stdout)
    assert set(sec) >= {"unseen", "operating_point"} and "validation" not in sec and "test" not in sec
    r = json.loads((tiny_run / "report.json").read_text())
    assert sec["operating_point"]["threshold"] == r["recognizer"]["threshold"]  # heard at the run's own point
    # every clip of the folder is a candidate: more keyword clips than a test split would hold
    kw = [e for e in discover(other, ["up", "down"]).examples if e.label in ("up", "down")]
    assert sec["unseen"]["quiet"]["keywords"] > 0 and len(kw) > 2 * sum(e.split == "test" for e in kw)
    said = _evaluate(tiny_run, other, "--streaming", "--stream-minutes", "0.2")
    assert said.returncode == 0 and "not the run's own dataset" in said.stdout and "unseen quiet" in said.stdout


def test_the_operating_point_is_not_chosen_on_an_unseen_folder(tiny_run, tmp_path):
    from tests.helpers import make_tone_dataset

    other = make_tone_dataset(tmp_path / "others", speakers=4, seed=6)
    p = _evaluate(tiny_run, other, "--streaming", "--target-fa-per-hour", "1")
    assert p.returncode == 2 and "Traceback" not in p.stderr and "not the run's dataset" in p.stderr


def test_the_runs_own_folder_is_still_its_validation_and_test_streams(tiny_run):
    r = json.loads((tiny_run / "report.json").read_text())
    p = _evaluate(tiny_run, r["data"]["dataset"], "--streaming", "--stream-minutes", "0.2", "--json")
    assert p.returncode == 0, p.stderr[-2000:]
    assert {"validation", "test"} <= set(json.loads(p.stdout)) and "unseen" not in json.loads(p.stdout)
