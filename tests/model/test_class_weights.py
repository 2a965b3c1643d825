"""Loss weights: balanced over classes, with the negatives' weight a recipe setting."""

import numpy as np

from tinykws.model.train import class_weights


def test_balanced_weights_give_every_present_class_the_same_total():
    y = np.array([0] * 10 + [1] * 40 + [2] * 50)
    w = class_weights(y, 4)
    totals = np.bincount(y, minlength=4) * w
    assert np.allclose(totals[:3], totals[0]) and w[3] == 0


def test_negative_weight_scales_only_the_negative_classes():
    y = np.array([0] * 10 + [1] * 40 + [2] * 50)
    base = class_weights(y, 3)
    w = class_weights(y, 3, negative=[2], negative_weight=2.5)
    assert np.allclose(w[:2], base[:2]) and np.isclose(w[2], 2.5 * base[2])
