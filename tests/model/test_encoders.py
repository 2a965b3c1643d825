"""The pretrained DS-CNN-S encoder shipped with tinykws, and `tinykws train --encoder`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tinykws.model.encoders import apply_encoder, encoder_paths, load_encoder, trunk_weights
from tinykws.spec import DEFAULT_SPEC


def test_shipped_encoder_fits_the_ds_cnn_s_trunk_of_the_default_spec():
    from tinykws.model.architectures import build_model

    npz, js = encoder_paths("ds-cnn-s")
    meta = json.loads(js.read_text())
    assert meta["arch"] == "ds-cnn-s" and meta["spec_sha256"] == DEFAULT_SPEC.sha256
    assert npz.stat().st_size < 200_000  # a small artefact inside the package
    enc = load_encoder("ds-cnn-s", DEFAULT_SPEC)
    model = build_model("ds-cnn-s", DEFAULT_SPEC.input_shape, 12)
    before = model.get_layer("scores").get_weights()
    apply_encoder(model, enc)
    got = trunk_weights(model)
    assert [list(w.shape) for w in got] == meta["shapes"] == [list(w.shape) for w in enc.weights]
    assert all(np.array_equal(a, b) for a, b in zip(got, enc.weights))
    # The classifier is the run's own (its labels), untouched by the encoder.
    assert all(np.array_equal(a, b) for a, b in zip(model.get_layer("scores").get_weights(), before))


def test_default_encoder_is_the_pretrained_one_where_it_fits_else_none():
    from dataclasses import replace

    from tinykws.model.encoders import resolve_encoder

    assert resolve_encoder(None, "ds-cnn-s", DEFAULT_SPEC) == "pretrained"
    assert resolve_encoder(None, "tiny-conv", DEFAULT_SPEC) == "none"
    assert resolve_encoder(None, "ds-cnn-s", replace(DEFAULT_SPEC, n_mfcc=13)) == "none"  # another front end
    assert resolve_encoder("none", "ds-cnn-s", DEFAULT_SPEC) == "none"


def test_encoder_pretrained_for_an_arch_without_one_is_one_error_line_before_any_work(tone_dataset, tmp_path):
    p = subprocess.run([sys.executable, "-m", "tinykws", "train", str(tone_dataset), "--arch", "tiny-conv",
                        "--encoder", "pretrained", "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, (p.stdout[-500:], p.stderr[-500:])
    assert "Traceback" not in p.stderr
    errs = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(errs) == 1 and errs[0].startswith("error: ") and "tiny-conv" in errs[0] and "--encoder none" in errs[0], p.stderr
    assert "run folder" not in p.stdout and not list((tmp_path / "runs").glob("*"))


def test_train_with_the_encoder_starts_from_its_weights_and_records_it(tone_dataset, tmp_path, monkeypatch):
    import keras
    from click.testing import CliRunner

    from tinykws.cli.main import cli

    seen: list[list[np.ndarray]] = []
    fit = keras.Model.fit

    def fit_and_note_start(self, *a, **k):
        seen.append(trunk_weights(self))  # what the fit starts from
        return fit(self, *a, **k)

    monkeypatch.setattr(keras.Model, "fit", fit_and_note_start)
    res = CliRunner().invoke(cli, ["train", str(tone_dataset), "--words", "up,down", "--arch", "ds-cnn-s", "--encoder",
                                   "pretrained", "--epochs", "1", "--batch-size", "32", "--stream-minutes", "0.1",
                                   "--no-synth-keywords", "--no-near-misses", "--hard-negative-rounds", "0",
                                   "--no-stream-checkpoint", "--no-teacher", "--name", "enc", "--out", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output[-2000:]
    assert "starts from the pretrained ds-cnn-s encoder" in res.output
    run = next((tmp_path / "runs").glob("*-enc"))
    assert json.loads((run / "config.json").read_text())["encoder"] == "pretrained"
    assert json.loads((run / "report.json").read_text())["model"]["encoder"] == "pretrained"
    enc = load_encoder("ds-cnn-s", DEFAULT_SPEC)
    assert seen and all(np.array_equal(a, b) for a, b in zip(seen[0], enc.weights))
