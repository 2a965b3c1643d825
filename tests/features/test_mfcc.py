import numpy as np
import pytest

from tinykws.features import FeatureCache, compute_mfcc, feature_tables, librosa_mfcc
from tinykws.spec import FeatureSpec

SPEC = FeatureSpec()


def tone(freq, amp=0.5, n=16000, sr=16000):
    t = np.arange(n) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def log_mel(y, spec=SPEC):
    # Invert the orthonormal DCT on all n_mels coefficients to get the log-mel bands back.
    full = FeatureSpec(n_mfcc=spec.n_mels)
    c = compute_mfcc(y, full)
    return c @ feature_tables(full).dct  # dct is orthonormal: D^T D = I


@pytest.mark.parametrize("freq", [250.0, 700.0, 1500.0, 3000.0])
def test_pure_tone_energy_lands_in_its_mel_band(freq):
    tables = feature_tables(SPEC)
    fft_bin = int(round(freq * SPEC.n_fft / SPEC.sample_rate))
    expected_band = int(np.argmax(tables.mel[:, fft_bin]))
    bands = log_mel(tone(freq)).mean(axis=0)
    assert abs(int(np.argmax(bands)) - expected_band) <= 1


def test_silence_is_the_log_floor_everywhere():
    c = compute_mfcc(np.zeros(16000, np.int16), SPEC)
    floor_db = 10 * np.log10(SPEC.log_floor)
    # Only c0 is non-zero for a constant log-mel vector: c0 = floor * sqrt(n_mels).
    assert np.allclose(c[:, 0], floor_db * np.sqrt(SPEC.n_mels), atol=1e-3)
    assert np.allclose(c[:, 1:], 0, atol=1e-3)


def test_full_scale_input_is_finite_and_not_clipped_relative_to_max():
    sq = np.where(np.arange(16000) % 40 < 20, 32767, -32768).astype(np.int16)
    c = compute_mfcc(sq, SPEC)
    assert np.isfinite(c).all()
    # The fundamental (400 Hz) carries the most energy, far above the floor.
    bands = log_mel(sq.astype(np.float32) / 32768).mean(axis=0)
    fft_bin = int(round(400 * SPEC.n_fft / SPEC.sample_rate))
    assert int(np.argmax(bands)) == int(np.argmax(feature_tables(SPEC).mel[:, fft_bin]))
    assert bands.max() > 20  # slaney-normalised bands: ~26 dB for a full-scale square wave


def test_no_clipping_relative_to_the_clip_maximum():
    # A 48 dB quieter copy is 48.16 dB lower in every band (no top_db): c0 moves by that * sqrt(n_mels)
    # and the other coefficients do not move at all.
    rng = np.random.default_rng(3)
    loud = np.clip(rng.normal(0, 0.4, 16000), -1, 0.999).astype(np.float32)
    a, b = compute_mfcc(loud, SPEC), compute_mfcc(loud / 256, SPEC)
    shift = 20 * np.log10(256) * np.sqrt(SPEC.n_mels)
    assert np.allclose(a[:, 0] - b[:, 0], shift, atol=0.01)
    assert np.allclose(a[:, 1:], b[:, 1:], atol=0.01)


def test_matches_librosa_reference_on_speechlike_noise():
    rng = np.random.default_rng(0)
    y = (rng.normal(0, 0.1, 16000) * np.hanning(16000)).astype(np.float32)
    a = compute_mfcc(y, SPEC)
    b = librosa_mfcc(y, SPEC)
    assert a.shape == b.shape == (49, 10)
    assert np.max(np.abs(a - b)) < 1e-2


def test_batch_equals_single_and_int16_scaling():
    rng = np.random.default_rng(1)
    pcm = rng.integers(-20000, 20000, size=(5, 16000)).astype(np.int16)
    batch = compute_mfcc(pcm, SPEC, batch_size=2, workers=2)
    for i in range(5):
        assert np.array_equal(batch[i], compute_mfcc(pcm[i], SPEC))
    assert np.allclose(compute_mfcc(pcm[0], SPEC), compute_mfcc(pcm[0] / 32768.0, SPEC), atol=1e-4)


def test_cache_hits_and_key_on_spec(tmp_path):
    rng = np.random.default_rng(2)
    y = rng.normal(0, 0.1, (3, 16000)).astype(np.float32)
    cache = FeatureCache(SPEC, tmp_path)
    a, hits = cache.features(y, ["a1", "b2", ""])
    assert hits == 0
    b, hits = cache.features(y, ["a1", "b2", ""])
    assert hits == 2 and np.array_equal(a, b)
    other = FeatureCache(FeatureSpec(n_mfcc=12), tmp_path)
    assert other.get("a1") is None
