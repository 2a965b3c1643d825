"""Waveform augmentation for training, batched and seeded.

Augmentation works on waveforms, so every augmented example gets fresh features
(:func:`tinykws.features.compute_mfcc` is fast enough to run every epoch). All
randomness comes from a ``numpy.random.Generator`` the caller passes, so a run is
reproducible from its seed.

Definitions used by the tests:

- ``time_shift(y, k)`` moves the signal ``k`` samples later (``k < 0``: earlier),
  filling with zeros; the length is unchanged.
- ``mix_at_snr(y, noise, snr_db)`` scales ``noise`` so that
  ``10 * log10(mean(y**2) / mean(scaled_noise**2)) == snr_db`` and adds it.
- ``apply_gain_db(y, g)`` multiplies by ``10 ** (g / 20)``.
- ``time_mask(feats, ...)`` sets whole frames to the feature floor (SpecAugment-style).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def time_shift(y: np.ndarray, shift: int) -> np.ndarray:
    """Shift the last axis by ``shift`` samples with zero fill (positive: later)."""
    out = np.zeros_like(y)
    n = y.shape[-1]
    if shift >= n or -shift >= n:
        return out
    if shift >= 0:
        out[..., shift:] = y[..., : n - shift]
    else:
        out[..., : n + shift] = y[..., -shift:]
    return out


def apply_gain_db(y: np.ndarray, gain_db: float | np.ndarray) -> np.ndarray:
    """Scale by ``gain_db`` decibels (array gains broadcast over the leading axis)."""
    g = np.power(10.0, np.asarray(gain_db, np.float32) / 20.0).astype(np.float32)
    if g.ndim == 1 and y.ndim == 2:
        g = g[:, None]
    return (y * g).astype(np.float32)


def mix_at_snr(y: np.ndarray, noise: np.ndarray, snr_db: float | np.ndarray) -> np.ndarray:
    """Add ``noise`` scaled to reach ``snr_db`` against ``y``'s power.

    Works on one clip ``(samples,)`` or a batch ``(n, samples)`` with per-row SNRs.
    Rows whose signal or noise is silent get the noise unscaled / nothing added.
    """
    y = np.asarray(y, np.float32)
    noise = np.asarray(noise, np.float32)
    p_sig = np.mean(y.astype(np.float64) ** 2, axis=-1, keepdims=True)
    p_noise = np.mean(noise.astype(np.float64) ** 2, axis=-1, keepdims=True)
    snr = np.asarray(snr_db, np.float64)
    if snr.ndim == 1:
        snr = snr[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.sqrt(p_sig / (p_noise * np.power(10.0, snr / 10.0)))
    scale = np.where((p_noise > 0) & np.isfinite(scale), scale, 0.0)
    return (y + noise * scale.astype(np.float32)).astype(np.float32)


def time_mask(feats: np.ndarray, rng: np.random.Generator, n_masks: int = 1, max_frames: int = 5, fill: float | None = None) -> np.ndarray:
    """SpecAugment time masking on ``[n, frames, coeffs]`` features.

    Each clip gets ``n_masks`` masks of 0..``max_frames`` frames set to ``fill``
    (default: the batch's minimum, i.e. the silence floor).
    """
    out = feats.copy()
    fill_v = float(feats.min()) if fill is None else fill
    n, t, _ = feats.shape
    for _ in range(n_masks):
        widths = rng.integers(0, max_frames + 1, size=n)
        starts = rng.integers(0, np.maximum(t - widths, 0) + 1)
        for i in range(n):
            if widths[i]:
                out[i, starts[i] : starts[i] + widths[i]] = fill_v
    return out


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings (stored in the run's config).

    Attributes
    ----------
    shift_ms : float
        Largest time shift either way.
    noise_prob : float
        Chance a clip gets background noise.
    snr_db : tuple of float
        Range of the signal-to-noise ratio when noise is added.
    gain_db : tuple of float
        Range of the overall gain.
    time_masks : int
        SpecAugment time masks per clip (0: off).
    time_mask_frames : int
        Widest time mask.
    """

    shift_ms: float = 100.0
    noise_prob: float = 0.8
    snr_db: tuple[float, float] = (5.0, 25.0)
    gain_db: tuple[float, float] = (-12.0, 6.0)
    time_masks: int = 1
    time_mask_frames: int = 4


class Augmenter:
    """Applies :class:`AugmentConfig` to batches of clips.

    Parameters
    ----------
    noise : list of np.ndarray
        Background noise recordings (float32, any length >= one clip); may be empty.
    sr : int
    config : AugmentConfig
    """

    def __init__(self, noise: list[np.ndarray], sr: int, config: AugmentConfig = AugmentConfig()):
        self.noise = [n for n in noise if len(n) > 0]
        self.sr = sr
        self.config = config

    def noise_crops(self, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random crops of ``length`` samples from the noise recordings (tiled if short)."""
        out = np.zeros((n, length), np.float32)
        if not self.noise:
            return out
        which = rng.integers(0, len(self.noise), size=n)
        for i, w in enumerate(which):
            src = self.noise[w]
            if len(src) < length:
                src = np.tile(src, length // len(src) + 1)
            start = int(rng.integers(0, len(src) - length + 1))
            out[i] = src[start : start + length]
        return out

    def __call__(self, y: np.ndarray, is_silence: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Augment a batch.

        Parameters
        ----------
        y : np.ndarray [shape=(n, samples), float32]
        is_silence : np.ndarray [shape=(n,), bool]
            Silence examples are not shifted and get no extra noise (they are noise).
        rng : np.random.Generator

        Returns
        -------
        np.ndarray [shape=(n, samples), float32] clipped to [-1, 1)
        """
        c = self.config
        n, length = y.shape
        out = y.astype(np.float32, copy=True)
        max_shift = int(c.shift_ms * self.sr / 1000)
        if max_shift:
            shifts = rng.integers(-max_shift, max_shift + 1, size=n)
            for i in np.nonzero(~is_silence)[0]:
                out[i] = time_shift(out[i], int(shifts[i]))
        out = apply_gain_db(out, rng.uniform(c.gain_db[0], c.gain_db[1], size=n))
        if self.noise and c.noise_prob > 0:
            add = (rng.random(n) < c.noise_prob) & ~is_silence
            if add.any():
                idx = np.nonzero(add)[0]
                crops = self.noise_crops(len(idx), length, rng)
                snr = rng.uniform(c.snr_db[0], c.snr_db[1], size=len(idx))
                out[idx] = mix_at_snr(out[idx], crops, snr)
        return np.clip(out, -1.0, 32767 / 32768).astype(np.float32)
