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
    f = np.random.default_rng(1).uniform(1, 2, (200, 49, 10)).astype(np.float32)
    m = time_mask(f, np.random.default_rng(2), n_masks=1, max_frames=4, fill=0.0)
    hit = m != f
    # Whole frames, every coefficient, set to the fill; the rest untouched.
    assert np.array_equal(hit.any(axis=2), hit.all(axis=2)) and np.all(m[hit] == 0.0)
    widths = []
    for frames in hit.all(axis=2):
        idx = np.flatnonzero(frames)
        assert len(idx) == 0 or idx[-1] - idx[0] + 1 == len(idx), idx  # one contiguous mask
        widths.append(len(idx))
    # Every width from 0 to max_frames occurs, and none wider.
    assert sorted(set(widths)) == [0, 1, 2, 3, 4], widths


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


def test_time_mask_default_fills_each_coefficient_with_silence():
    """The default mask is a frame of digital silence: c0 at the log floor, every other coefficient 0.

    One number for the whole frame (say the matrix minimum) would put c1..c9 near c0's -632,
    frames no audio produces, which saturate the int8 input.
    """
    from tinykws.features import compute_mfcc, silence_mfcc
    from tinykws.spec import FeatureSpec

    spec = FeatureSpec()
    rng = np.random.default_rng(4)
    feats = compute_mfcc(rng.normal(0, 0.1, (20, spec.clip_samples)).astype(np.float32), spec)
    m = time_mask(feats, np.random.default_rng(5), n_masks=1, max_frames=4, spec=spec)
    changed = np.any(m != feats, axis=2)
    assert changed.sum() > 0
    silent = compute_mfcc(np.zeros(spec.clip_samples, np.float32), spec)[0]
    assert np.allclose(m[changed], silent, atol=1e-3)
    assert np.allclose(silence_mfcc(spec), silent, atol=1e-3)
    assert np.all(np.abs(m[changed][:, 1:]) < 1e-3)
    assert np.allclose(m[changed][:, 0], 10 * np.log10(spec.log_floor) * np.sqrt(spec.n_mels), rtol=1e-5)
    # No masked value lies outside what clean features of audio (silence included) can hold.
    lo = np.minimum(feats.min(axis=(0, 1)), silent)
    assert np.all(m.min(axis=(0, 1)) >= lo - 1e-3)


def test_time_mask_default_follows_the_spec():
    from tinykws.spec import FeatureSpec

    spec = FeatureSpec(n_mfcc=13)
    m = time_mask(np.zeros((4, spec.n_frames, 13), np.float32) + 5, np.random.default_rng(0), max_frames=49, spec=spec)
    assert np.any(m[..., 0] < -600) and np.all(np.abs(m[..., 1:] - 5) < 5 + 1e-3)
    with pytest.raises(ValueError):
        time_mask(np.zeros((2, 49, 10), np.float32), np.random.default_rng(0), spec=spec)


def test_spoken_span_and_place_word():
    from tinykws.data.augment import place_word, spoken_span

    y = np.zeros(16000, np.float32)
    y[4160:8000] = 0.5  # 20 ms frames 13..24
    y[9000:9100] = 0.005  # a click: its 20 ms frame is 44 dB below the word's
    a, b = spoken_span(y, 16000)
    assert (a, b) == (4160, 8000)
    # A weak ending (a fricative 20 dB below the vowel, like the /f/ of "off") belongs to the word.
    y[8000:9600] = 0.05
    assert spoken_span(y, 16000) == (4160, 9600)
    assert spoken_span(y, 16000, below_db=10.0) == (4160, 8000)
    w = np.ones(100, np.float32)
    bg = np.zeros(1000, np.float32)
    assert place_word(w, bg, 950).sum() == 50 and place_word(w, bg, -30).sum() == 70
    assert place_word(w, bg, 200)[200:300].tolist() == [1.0] * 100 and bg.sum() == 0


def _stream_batch(partial, seed=0):
    from tinykws.data.augment import AugmentConfig, StreamWindows

    cfg = AugmentConfig(gain_db=(0.0, 0.0), word_snr_prob=0.0, level_change_prob=0.0, background_dbfs=(-200.0, -199.0),
                        speed_prob=0.0)
    n = len(partial)
    words = np.zeros((n, 16000), np.float32)
    words[:, 5000:11000] = 0.25  # a 6000-sample "word" of constant level
    spans = np.tile([5000, 11000], (n, 1))
    rng = np.random.default_rng(seed)
    noise = [rng.normal(0, 0.1, 48000).astype(np.float32)]
    return StreamWindows(noise, 16000, cfg)(words, spans, np.asarray(partial), np.random.default_rng(seed))


def test_stream_windows_place_the_whole_word_or_only_a_part():
    from tinykws.data.augment import AugmentConfig

    out = _stream_batch([False] * 40 + [True] * 40)
    inside = (np.abs(out) > 0.2).sum(axis=1)  # the background is ~200 dB down
    assert np.all(inside[:40] == 6000), "a full word lies wholly inside its window"
    lo, hi = AugmentConfig().partial_visible
    assert np.all(inside[40:] >= lo * 6000 - 1) and np.all(inside[40:] <= hi * 6000 + 1)
    # A partial word touches an edge of the window; full words land at many places.
    edge = (np.abs(out[40:, 0]) > 0.2) | (np.abs(out[40:, -1]) > 0.2)
    assert edge.all()
    starts = np.argmax(np.abs(out[:40]) > 0.2, axis=1)
    assert len(set(starts.tolist())) > 20 and starts.min() >= 0 and starts.max() <= 10000


def test_change_speed_scales_duration_and_frequency():
    from tinykws.data.augment import change_speed

    sr = 16000
    t = np.arange(sr) / sr
    y = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    for f in (0.85, 1.15):
        z = change_speed(y, f)
        assert len(z) == round(sr / f)
        spec = np.abs(np.fft.rfft(z * np.hanning(len(z))))
        peak_hz = np.argmax(spec) * sr / len(z)
        assert abs(peak_hz - 440 * f) < 3, (f, peak_hz)
    assert np.array_equal(change_speed(y, 1.0), y)


def test_stream_windows_change_the_speed_of_words():
    from tinykws.data.augment import AugmentConfig, StreamWindows

    cfg = AugmentConfig(gain_db=(0.0, 0.0), word_snr_prob=0.0, level_change_prob=0.0, background_dbfs=(-200.0, -199.0),
                        speed_prob=1.0, speed=(0.8, 1.25))
    words = np.zeros((40, 16000), np.float32)
    words[:, 5000:11000] = 0.25
    spans = np.tile([5000, 11000], (40, 1))
    out = StreamWindows([np.zeros(0, np.float32)], 16000, cfg)(words, spans, np.zeros(40, bool), np.random.default_rng(0))
    inside = (np.abs(out) > 0.2).sum(axis=1)
    assert inside.min() >= 6000 / 1.25 - 2 and inside.max() <= 6000 / 0.8 + 2
    assert inside.max() - inside.min() > 2000, "durations spread over the factor's range"


def test_background_windows_are_at_the_configured_levels():
    from tinykws.data.augment import AugmentConfig, StreamWindows, rms_dbfs

    cfg = AugmentConfig(level_change_prob=0.0)
    rng = np.random.default_rng(1)
    w = StreamWindows([rng.normal(0, 0.3, 40000).astype(np.float32)], 16000, cfg)
    bg = w.background(200, 16000, np.random.default_rng(2))
    lv = rms_dbfs(bg)
    assert np.all(lv >= cfg.background_dbfs[0] - 0.1) and np.all(lv <= cfg.background_dbfs[1] + 0.1)
    assert lv.max() - lv.min() > 0.7 * (cfg.background_dbfs[1] - cfg.background_dbfs[0])
