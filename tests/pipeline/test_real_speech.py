"""The default recipe on real speech: the accuracy floor the project promises (slow: ~3-5 min)."""

import json

import pytest

WORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]


@pytest.mark.slow
def test_default_training_on_real_speech_meets_the_floor(shared_speech, tmp_path):
    from tinykws.pipeline import TrainConfig, train

    run = train(TrainConfig(dataset=str(shared_speech), words=WORDS, seed=0), tmp_path, progress=False)
    r = json.loads((run / "report.json").read_text())
    acc = r["accuracy"]
    assert r["data"]["labels"] == WORDS + ["_unknown_", "_silence_"]
    assert r["n_test"] >= 150
    assert acc["int8"] >= 0.80, acc
    # int8 within 2 points of float (4 of ~200 clips). Dense layers are quantized with one scale so
    # the pinned TFLM computes them right (tinykws/model/quantize.py); measured: 1.5 points, seed 0.
    assert acc["float"] - acc["int8"] <= 0.02, acc
    assert r["model"]["tflite_bytes"] <= 64 * 1024
    assert r["tflm"]["arena_bytes"] <= 32 * 1024
    # Speaker-disjoint: no test speaker in training.
    import csv

    rows = list(csv.DictReader(open(run / "manifest.csv")))
    spk = lambda s: {r["speaker"] for r in rows if r["split"] == s and r["source"] != "_background_noise_"}  # noqa: E731
    assert not spk("train") & spk("test")
