"""The MLP head on the teacher's clip features: it learns a known rule, reproducibly, and counts per class."""

from __future__ import annotations

import numpy as np

from tinykws.ear.head import accuracy_per_class, train_head


def _clusters(n: int, seed: int):
    # Three classes whose means differ in a few of 192 dimensions, on unit noise.
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.zeros((3, 192), np.float32)
    centres[0, :4], centres[1, 4:8], centres[2, 8:12] = 2.0, 2.0, 2.0
    return (centres[y] + rng.standard_normal((n, 192))).astype(np.float32) * 5 + 3, y


def test_the_head_learns_held_out_points_and_is_reproducible():
    X, y = _clusters(600, seed=0)
    Xt, yt = _clusters(300, seed=1)
    head = train_head(X, y, 3, epochs=20, seed=0)
    acc = accuracy_per_class(yt, head.predict(Xt), ["a", "b", "c"])
    assert acc["all"] > 0.9, acc  # chance: 1/3
    p = head.predict_proba(Xt)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    again = train_head(X, y, 3, epochs=20, seed=0)
    np.testing.assert_array_equal(again.w1, head.w1)
    np.testing.assert_array_equal(again.predict_proba(Xt), p)


def test_accuracy_per_class_known_answer():
    acc = accuracy_per_class(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), ["a", "b", "c", "d"])
    assert acc == {"a": 0.5, "b": 1.0, "c": 0.0, "all": 0.6}
