"""scripts/learning_curve.py: shares of the training speakers, nested, with every judged clip kept."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


def _script():
    spec = importlib.util.spec_from_file_location("learning_curve", REPO / "scripts" / "learning_curve.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_speaker_shares_are_nested_and_keep_validation_and_test(tmp_path):
    from tinykws.data.dataset import split_of_speaker

    lc = _script()
    root = tmp_path / "ds"
    for folder in ("yes", "bed", "_background_noise_"):
        (root / folder).mkdir(parents=True)
    for i in range(400):
        for folder in ("yes", "bed"):
            (root / folder / f"{i:08x}_nohash_0.wav").write_bytes(b"RIFF")
    (root / "_background_noise_" / "fan.wav").write_bytes(b"RIFF")
    kept = {}
    for f in (0.25, 0.5):
        dest = tmp_path / f"share{f}"
        n = lc.speaker_subset(root, dest, f)
        assert lc.speaker_subset(root, dest, f) == n  # again: the same links
        kept[f] = {p.relative_to(dest).as_posix() for p in dest.rglob("*.wav")}
        assert n["kept"] == len(kept[f]) and n["kept"] + n["dropped"] == 801
    assert kept[0.25] < kept[0.5]
    assert "_background_noise_/fan.wav" in kept[0.25]
    spk = {i: split_of_speaker(f"{i:08x}") for i in range(400)}
    for i, split in spk.items():
        if split != "train":  # judged speakers are in every share
            assert f"yes/{i:08x}_nohash_0.wav" in kept[0.25] and f"bed/{i:08x}_nohash_0.wav" in kept[0.25]
    train = [i for i, s in spk.items() if s == "train"]
    share = sum(f"yes/{i:08x}_nohash_0.wav" in kept[0.5] for i in train) / len(train)
    assert 0.4 < share < 0.6
    assert (tmp_path / "share0.5" / "yes").resolve() != (root / "yes").resolve()  # links in a new tree, the dataset untouched


def test_bad_input_is_a_one_line_error(tmp_path):
    for args, says in (([str(tmp_path / "nope")], "error: dataset folder not found"),
                       ([str(tmp_path), "--fractions", "0", "0.5"], "error: fractions must be in (0, 1]")):
        p = subprocess.run([sys.executable, str(REPO / "scripts" / "learning_curve.py"), *args, "--out", str(tmp_path / "o")],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and p.stderr.strip().startswith(says) and "Traceback" not in p.stderr


@pytest.mark.slow
def test_trains_each_share_and_prints_the_curve(tone_dataset, tmp_path):
    out = tmp_path / "lc"
    cmd = [sys.executable, str(REPO / "scripts" / "learning_curve.py"), str(tone_dataset), "--words", "up,down",
           "--fractions", "0.5", "1", "--seeds", "0", "--stream-minutes", "0.3", "--out", str(out), "--jobs", "2",
           "--", "--arch", "ds-cnn-xs", "--epochs", "3", "--batch-size", "16", "--hard-negative-rounds", "0", "--no-teacher"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, cwd=REPO)
    assert p.returncode == 0, p.stdout + p.stderr
    # run names start with their start time, and the two trainings run side by side: order by share
    runs = sorted((out / "runs").glob("*-lc*-s0"), key=lambda r: r.name.split("-", 2)[2])
    assert [r.name.split("-", 2)[2] for r in runs] == ["lc050-s0", "lc100-s0"]
    curve = p.stdout.split("mean over seeds")[1].splitlines()
    half, full = (ln.split() for ln in curve[2:4])
    assert (half[0], full[0]) == ("0.5", "1") and int(half[2]) < int(full[2])  # fewer training speakers at 0.5
    for r in runs:  # each run carries the options given after --
        assert json.loads((r / "config.json").read_text())["epochs"] == 3
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO)  # reuses both runs
    assert again.returncode == 0 and "training:" not in again.stdout and len(list((out / "runs").glob("*-lc*-s0"))) == 2


@pytest.mark.slow
def test_ctrl_c_stops_the_trainings_and_leaves_no_half_run(tone_dataset, tmp_path):
    import signal
    import time

    out = tmp_path / "lc"
    p = subprocess.Popen([sys.executable, str(REPO / "scripts" / "learning_curve.py"), str(tone_dataset), "--words", "up,down",
                          "--fractions", "0.5", "1", "--seeds", "0", "--stream-minutes", "0.3", "--out", str(out), "--jobs", "2",
                          "--", "--arch", "ds-cnn-xs", "--epochs", "50", "--batch-size", "16", "--no-teacher"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300  # until both trainings have made their (hidden, unfinished) run folders
    while time.monotonic() < deadline and p.poll() is None and len(list((out / "runs").glob(".*.partial"))) < 2:
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted: finished runs stay in") and "Traceback" not in err
    assert [d.name for d in (out / "runs").iterdir() if d.is_dir()] == []  # no run, finished or not
