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


def test_frozen_trunk_keeps_the_encoders_weights_and_the_classifier_learns(tone_dataset, tmp_path):
    import keras
    from click.testing import CliRunner

    from tinykws.cli.main import cli

    res = CliRunner().invoke(cli, ["train", str(tone_dataset), "--words", "up,down", "--arch", "ds-cnn-s", "--encoder",
                                   "pretrained", "--frozen-trunk", "-1", "--epochs", "2", "--batch-size", "32",
                                   "--stream-minutes", "0.1", "--no-synth-keywords", "--no-near-misses",
                                   "--hard-negative-rounds", "0", "--no-stream-checkpoint", "--no-teacher", "--name", "frozen",
                                   "--out", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output[-2000:]
    assert "18 of the trunk's 18 layers with weights stay as pretrained" in res.output
    run = next((tmp_path / "runs").glob("*-frozen"))
    assert json.loads((run / "config.json").read_text())["frozen_trunk"] == -1
    model = keras.models.load_model(run / "model.keras", compile=False)
    enc = load_encoder("ds-cnn-s", DEFAULT_SPEC)
    # Every trunk weight, batch-norm statistics included, is the encoder's; the classifier moved from its start.
    assert all(np.array_equal(a, b) for a, b in zip(trunk_weights(model), enc.weights))
    assert np.abs(model.get_layer("scores").get_weights()[0]).sum() > 0


def test_frozen_trunk_without_a_pretrained_encoder_is_one_error_line(tone_dataset, tmp_path):
    p = subprocess.run([sys.executable, "-m", "tinykws", "train", str(tone_dataset), "--words", "up,down", "--encoder", "none",
                        "--frozen-trunk", "-1", "--epochs", "1", "--no-teacher", "--out", str(tmp_path / "runs")],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 2, (p.stdout[-500:], p.stderr[-500:])
    errs = [l for l in p.stderr.splitlines() if l.strip()]
    assert "Traceback" not in p.stderr and len(errs) == 1 and "--frozen-trunk" in errs[0] and "pretrained" in errs[0], p.stderr


def test_the_trunk_stays_frozen_by_default_only_for_a_few_voices_with_the_pretrained_encoder():
    from types import SimpleNamespace

    from tinykws.pipeline import default_frozen_trunk

    few = SimpleNamespace(labels=["lamp", "_unknown_", "_silence_"], by_take=["lamp"])
    many = SimpleNamespace(labels=["lamp", "_unknown_", "_silence_"], by_take=[])
    mixed = SimpleNamespace(labels=["lamp", "yes", "_unknown_"], by_take=["lamp"])
    assert default_frozen_trunk(few, "pretrained") == -1
    assert default_frozen_trunk(few, "none") == 0
    assert default_frozen_trunk(many, "pretrained") == 0
    assert default_frozen_trunk(mixed, "pretrained") == 0
