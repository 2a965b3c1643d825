"""Augmentation as numbers: SNR, shifts, gains, masks, and seeded reproducibility."""

import numpy as np
import pytest

from tinykws.data.augment import AugmentConfig, Augmenter, apply_gain_db, mix_at_snr, time_mask, time_shift


@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 20.0])
def test_noise_is_mixed_at_the_target_snr(snr):
    rng = np.random.default_rng(0)
    y = rng.normal(0, 0.1, 16000).astype(np.float32)
    n = rng.normal(0, 0.3, 16000).astype(np.float32)
    mixed = mix_at_snr(y, n, snr)
    added = mixed - y
    got = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean(added.astype(np.float64) ** 2))
    assert abs(got - snr) < 0.5


def test_batch_snr_per_row():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 0.1, (3, 8000)).astype(np.float32)
    n = rng.normal(0, 0.1, (3, 8000)).astype(np.float32)
    snr = np.array([0.0, 10.0, 20.0])
    added = mix_at_snr(y, n, snr) - y
    got = 10 * np.log10(np.mean(y**2, axis=1) / np.mean(added**2, axis=1))
    assert np.allclose(got, snr, atol=0.5)


def test_shift_and_gain_exact():
    y = np.arange(1, 11, dtype=np.float32)
    assert time_shift(y, 3).tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]
    assert time_shift(y, -2).tolist() == [3, 4, 5, 6, 7, 8, 9, 10, 0, 0]
    assert np.allclose(apply_gain_db(y, 6.0206), y * 2, rtol=1e-4)
    assert np.allclose(apply_gain_db(y, -20), y / 10, rtol=1e-5)


def test_time_mask_widths():
    rng = np.random.default_rng(2)
    f = np.ones((50, 49, 10), np.float32)
    m = time_mask(f, rng, n_masks=1, max_frames=4, fill=0.0)
    masked = (m == 0).all(axis=2).sum(axis=1)
    assert masked.max() <= 4 and masked.min() >= 0 and masked.sum() > 0


def test_augmenter_is_seeded_and_keeps_silence_unshifted():
    rng = np.random.default_rng(3)
    noise = [rng.normal(0, 0.1, 40000).astype(np.float32)]
    y = rng.normal(0, 0.1, (8, 16000)).astype(np.float32)
    sil = np.array([False] * 6 + [True] * 2)
    a = Augmenter(noise, 16000, AugmentConfig())
    out1 = a(y, sil, np.random.default_rng(7))
    out2 = a(y, sil, np.random.default_rng(7))
    assert np.array_equal(out1, out2)
    assert not np.array_equal(out1, a(y, sil, np.random.default_rng(8)))
    # Silence rows only get a gain: proportional to the input.
    r = out1[6] / np.where(y[6] == 0, 1, y[6])
    assert np.allclose(r[np.abs(y[6]) > 1e-3], r[np.abs(y[6]) > 1e-3][0], rtol=1e-3)
