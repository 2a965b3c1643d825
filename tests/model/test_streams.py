"""Streams while training: exact window features, hard-negative mining, the validation-stream judge."""

import numpy as np

from tinykws.features import compute_mfcc
from tinykws.model.streams import mine_windows, negative_stream, window_scores, TrainingStream
from tinykws.spec import FeatureSpec


class _EchoModel:
    """Stands in for a Keras model: returns each window's features flattened (to compare them exactly)."""

    def __call__(self, x, training=False):
        return np.asarray(x, np.float32).reshape(len(x), -1)


def test_window_features_are_the_clip_features_of_each_window():
    spec = FeatureSpec()
    rng = np.random.default_rng(0)
    y = rng.normal(0, 0.1, 3 * spec.sample_rate).astype(np.float32)
    starts, got = window_scores(_EchoModel(), y, spec, stride_ms=100)
    step = spec.sample_rate // 10
    assert starts.tolist() == list(range(0, len(y) - spec.clip_samples + 1, step))
    want = compute_mfcc(np.stack([y[s : s + spec.clip_samples] for s in starts]), spec).reshape(len(starts), -1)
    assert np.allclose(got, want, atol=1e-3)


class _LoudModel:
    """Two labels (keyword, _unknown_): the keyword scores the window's peak level."""

    def __call__(self, x, training=False):
        kw = 1 / (1 + np.exp(-(np.asarray(x)[:, :, 0].max(axis=1) + 200) / 20))
        return np.stack([kw, 1 - kw], axis=1).astype(np.float32)


def test_mining_takes_the_windows_a_keyword_fires_on_and_knows_which_hold_words():
    spec = FeatureSpec()
    sr = spec.sample_rate
    y = np.zeros(20 * sr, np.float32)
    y += np.random.default_rng(1).normal(0, 1e-4, len(y)).astype(np.float32)
    y[5 * sr : 5 * sr + 4000] += 0.3  # a loud "word": the only thing the model fires on
    stream = TrainingStream(y, np.array([[5 * sr, 5 * sr + 4000]]), ["_unknown_"])
    audio, has_word = mine_windows(_LoudModel(), stream, spec, np.array([0]), threshold=0.5, max_windows=3, min_gap_ms=300)
    assert 1 <= len(audio) <= 3 and audio.shape[1] == spec.clip_samples
    assert has_word.all()
    assert all(np.abs(a).max() > 0.2 for a in audio)
    none, _ = mine_windows(_LoudModel(), stream, spec, np.array([0]), threshold=0.9999, max_windows=3)
    assert len(none) == 0


def test_negative_stream_is_seeded_and_holds_its_words():
    words = [np.full(3000, 0.2, np.float32), np.full(5000, 0.1, np.float32)]
    noise = [np.random.default_rng(2).normal(0, 0.1, 30000).astype(np.float32)]
    a = negative_stream(words, noise, 16000, 30.0, np.random.default_rng(3))
    b = negative_stream(words, noise, 16000, 30.0, np.random.default_rng(3))
    assert np.array_equal(a.y, b.y) and np.array_equal(a.spans, b.spans)
    assert len(a.spans) >= 5 and np.all(np.diff(a.spans[:, 0]) > 0)
    assert np.all(a.spans[1:, 0] >= a.spans[:-1, 1])  # words never overlap
    assert set(a.labels) == {"_unknown_"}


class _OracleModel:
    """Labels (up, _unknown_, _silence_): "up" when a loud burst lies wholly inside the window, else silence.

    (Firing on any part of a word would detect it twice, a second time after the suppression:
    the protocol counts that as a false accept, which is why training labels slivers of words
    as not-the-keyword.)
    """

    def __call__(self, x, training=False):
        loud = np.asarray(x)[:, :, 0] > -110  # noise at -35 dBFS: about -180
        inside = loud.any(axis=1) & ~loud[:, :2].any(axis=1) & ~loud[:, -2:].any(axis=1)
        out = np.where(inside[:, None], [[0.95, 0.03, 0.02]], [[0.02, 0.03, 0.95]])
        return out.astype(np.float32)


def test_the_validation_stream_judge_counts_hits_at_the_boards_times():
    """A model that is right on every window hits every keyword with no false accept: the judge's
    inference times (each window's end) and the protocol's hit windows agree."""
    from tinykws.model.streams import stream_hit_rate, validation_stream

    spec = FeatureSpec()
    rng = np.random.default_rng(5)
    words = [rng.normal(0, 0.2, int(rng.integers(3000, 9000))).astype(np.float32) for _ in range(6)]
    noise = [rng.normal(0, 1e-3, 5 * spec.sample_rate).astype(np.float32)]
    st = validation_stream(words, ["up"] * 6, [], noise, spec.sample_rate, minutes=2.0)
    r = stream_hit_rate(_OracleModel(), st, ["up", "_unknown_", "_silence_"], spec, target_fa_per_hour=1.0)
    assert sum(e.label == "up" for e in st.events) > 10
    assert r["hit_rate"] == 1.0 and r["fa_per_hour"] == 0.0 and r["target_met"]
