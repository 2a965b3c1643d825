"""The training recipe's data: what joins the training split, and what never reaches validation or test."""

import numpy as np

from tinykws.data.dataset import SILENCE, UNKNOWN


def _data(tone_dataset, **switches):
    from tinykws.pipeline import TrainConfig, clean_features, discover_dataset, load_splits, training_data, training_noise

    cfg = TrainConfig(dataset=str(tone_dataset), words=["up", "down"], **switches)
    ds = discover_dataset(cfg, lambda s: None)
    splits, _ = load_splits(ds, cfg.spec, lambda s: None)
    clean_features(splits, cfg.spec, lambda s: None)
    return ds, splits, training_data(cfg, ds, splits, training_noise(ds, cfg.spec), lambda s: None)


def test_with_every_switch_off_the_fit_sees_exactly_the_training_split(tone_dataset):
    ds, splits, d = _data(tone_dataset, synth_keywords=False, near_misses=False, all_unknown=False, stream_checkpoint=False)
    assert np.array_equal(d.audio, splits["train"].audio) and np.array_equal(d.labels, splits["train"].y)
    assert np.array_equal(d.is_silence, [e.label == SILENCE for e in splits["train"].examples])
    assert d.val_stream is None


def test_the_recipe_adds_training_only_examples_with_the_right_labels(tone_dataset):
    ds, splits, d = _data(tone_dataset)
    n = len(splits["train"].audio)
    assert np.array_equal(d.audio[:n], splits["train"].audio)
    extra = d.labels[n:]
    names = ds.labels
    # Synthetic keywords keep their label; every other added clip is _unknown_, none is _silence_.
    assert (extra == names.index("up")).sum() > 0 and (extra == names.index("down")).sum() > 0
    assert (extra == names.index(UNKNOWN)).sum() > 0 and not (extra == names.index(SILENCE)).any()
    assert not d.is_silence[n:].any()
    # Validation features are the validation split's own; the stream that judges checkpoints is built
    # from validation clips only (its keyword events are validation keywords).
    assert np.array_equal(d.X_val, splits["validation"].X)
    assert d.val_stream is not None and d.val_stream.split == "validation"
    assert {e.label for e in d.val_stream.events} <= {"up", "down", UNKNOWN}
    # The hard-negative words are spoken parts of non-keywords: as many as the _unknown_ training clips.
    assert len(d.negative_words) == int((d.labels == names.index(UNKNOWN)).sum())
    assert all(0 < len(w) <= d.audio.shape[1] for w in d.negative_words)
