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
- ``time_mask(feats, ...)`` sets whole frames to the MFCC of digital silence
  (:func:`tinykws.features.silence_mfcc`: each coefficient its own silence value), SpecAugment-style.
- ``place_word(word, background, start)`` adds a word (its spoken part) onto a
  background window at sample ``start``; parts outside the window are cut off.
- ``change_speed(y, f)`` plays ``y`` ``f`` times as fast (linear interpolation):
  ``round(len(y) / f)`` samples, every frequency times ``f``. Speakers differ in
  speaking rate and vocal-tract length; this is the cheap stand-in for more of them.

Stream windows (:class:`StreamWindows`) present training words the way a board
running every stride meets them: the spoken part of a clip at a random place in a
window of background noise at a random level, sometimes only partly inside the
window (then it is not the keyword), and background-only windows whose level can
change inside the window.
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


def time_mask(feats: np.ndarray, rng: np.random.Generator, n_masks: int = 1, max_frames: int = 5,
              fill: float | np.ndarray | None = None, spec=None) -> np.ndarray:
    """SpecAugment time masking on ``[n, frames, coeffs]`` features.

    Each clip gets ``n_masks`` masks of 0..``max_frames`` frames set to ``fill``:
    a number, a per-coefficient vector ``[coeffs]``, or by default the MFCC frame
    of digital silence for ``spec`` (:data:`tinykws.spec.DEFAULT_SPEC` if not given).
    A single number for every coefficient (say the matrix minimum) would make frames
    no audio can produce: ``c1..c9`` of silence are 0, not the ``c0`` floor.
    """
    out = feats.copy()
    n, t, k = feats.shape
    if fill is None:
        from tinykws.features import silence_mfcc
        from tinykws.spec import DEFAULT_SPEC

        fill_v = np.asarray(silence_mfcc(spec or DEFAULT_SPEC), np.float32)
        if fill_v.shape != (k,):
            raise ValueError(f"features have {k} coefficients, the spec {fill_v.shape[0]}")
    else:
        fill_v = np.asarray(fill, np.float32)
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
    stream_share : float
        Share of word clips presented as stream windows (when the fit uses them).
    partial_share : float
        Share of stream windows of a keyword that hold only part of it (then labelled not-the-keyword).
    partial_visible : tuple of float
        Range of the fraction of the spoken part left inside the window of a partial word.
    background_dbfs : tuple of float
        Range of the background's RMS level in a stream window (dBFS).
    level_change_prob : float
        Chance a background window changes level part-way (streams switch noise segments).
    word_snr_prob, word_snr_db : float, tuple of float
        Chance a stream word is scaled to an SNR against its background, and the SNR's range (dB).
    speed_prob, speed : float, tuple of float
        Chance a word is played faster or slower (:func:`change_speed`), and the factor's range.
    word_span_db : float
        How far below its loudest 20 ms frame a word's spoken part reaches (:func:`spoken_span`) where
        a word is placed in a stream window, cut into a partial word or put in a negative stream.
    """

    shift_ms: float = 100.0
    noise_prob: float = 0.8
    snr_db: tuple[float, float] = (5.0, 25.0)
    gain_db: tuple[float, float] = (-12.0, 6.0)
    time_masks: int = 1
    time_mask_frames: int = 4
    stream_share: float = 0.5
    partial_share: float = 0.15
    partial_visible: tuple[float, float] = (0.05, 0.5)
    background_dbfs: tuple[float, float] = (-70.0, -25.0)
    level_change_prob: float = 0.3
    word_snr_prob: float = 0.3
    word_snr_db: tuple[float, float] = (5.0, 15.0)
    speed_prob: float = 0.8
    speed: tuple[float, float] = (0.85, 1.15)
    word_span_db: float = 30.0


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
        if c.speed_prob > 0:
            factors = speed_factors(c, n, rng)
            for i in np.nonzero(~is_silence & (factors != 1.0))[0]:
                # Centred: the clip's middle stays in the middle, the ends are cut or zero-padded.
                z = change_speed(out[i], float(factors[i]))
                a = (len(z) - length) // 2
                out[i] = z[a : a + length] if a >= 0 else np.pad(z, (-a, length - len(z) + a))
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


def change_speed(y: np.ndarray, factor: float) -> np.ndarray:
    """``y`` played ``factor`` times as fast: ``round(len(y) / factor)`` samples read off ``y`` by linear interpolation."""
    y = np.asarray(y, np.float32)
    n = len(y)
    if n < 2 or factor == 1.0:
        return y.copy()
    m = max(1, int(round(n / factor)))
    t = np.arange(m, dtype=np.float64) * factor
    return np.interp(t, np.arange(n, dtype=np.float64), y, right=0.0).astype(np.float32)


def speed_factors(config: "AugmentConfig", n: int, rng: np.random.Generator) -> np.ndarray:
    """Per-row speed factors: ``config.speed`` uniformly for a ``speed_prob`` share of rows, 1 for the rest."""
    f = rng.uniform(config.speed[0], config.speed[1], size=n)
    return np.where(rng.random(n) < config.speed_prob, f, 1.0)


def rms_dbfs(y: np.ndarray) -> np.ndarray:
    """RMS level over the last axis in dBFS (-inf for silence)."""
    p = np.mean(np.asarray(y, np.float64) ** 2, axis=-1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(p)


#: A clip's spoken part reaches this far below its loudest 20 ms frame (dB). 30 dB keeps a word's weak
#: sounds (the /f/ of "off", the /s/ of "stop", the /p/ of "up"); 10 dB kept only the vowel.
SPOKEN_SPAN_DB = 30.0


def spoken_span(y: np.ndarray, sr: int, below_db: float = SPOKEN_SPAN_DB) -> tuple[int, int]:
    """Start and end sample of a clip's spoken part: 20 ms frames from the first to the last whose
    energy is within ``below_db`` of the loudest frame's (the whole clip when it is silent)."""
    hop = sr // 50
    k = len(y) // hop
    if k == 0:
        return 0, len(y)
    e = np.mean(np.asarray(y[: k * hop], np.float64).reshape(k, hop) ** 2, axis=1)
    if e.max() <= 0:
        return 0, len(y)
    on = np.nonzero(e >= 10 ** (-below_db / 10) * e.max())[0]
    return int(on[0] * hop), int(min(len(y), (on[-1] + 1) * hop))


def spoken_parts(audio: np.ndarray, sr: int, below_db: float = SPOKEN_SPAN_DB) -> list[np.ndarray]:
    """The spoken part (:func:`spoken_span`) of every clip, as contiguous float32 arrays."""
    out = []
    for y in audio:
        a, b = spoken_span(y, sr, below_db)
        out.append(np.ascontiguousarray(y[a:b], np.float32))
    return out


def place_word(word: np.ndarray, background: np.ndarray, start: int) -> np.ndarray:
    """``background`` with ``word`` added from sample ``start`` (may be negative); what falls outside is cut."""
    out = np.array(background, np.float32, copy=True)
    n = len(out)
    a, b = max(start, 0), min(start + len(word), n)
    if b > a:
        out[a:b] += word[a - start : b - start]
    return out


class StreamWindows:
    """One-second windows as a board running every stride sees them (see the module docstring).

    Parameters
    ----------
    noise : list of np.ndarray
        Background recordings (their training part); white noise at the same levels if empty.
    sr : int
    config : AugmentConfig
    """

    def __init__(self, noise: list[np.ndarray], sr: int, config: AugmentConfig = AugmentConfig()):
        self.crops = Augmenter(noise, sr, config)
        self.sr = sr
        self.config = config

    def background(self, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` noise windows, each at a random RMS level in ``background_dbfs``, some changing level part-way."""
        c = self.config
        if self.crops.noise:
            out = self.crops.noise_crops(n, length, rng)
        else:
            out = rng.normal(0, 1, (n, length)).astype(np.float32)
        level = rng.uniform(*c.background_dbfs, size=n)
        now = rms_dbfs(out)
        gain = np.where(np.isfinite(now), np.power(10.0, (level - np.where(np.isfinite(now), now, 0)) / 20), 0.0)
        out = (out * gain[:, None]).astype(np.float32)
        change = rng.random(n) < c.level_change_prob
        cut = rng.integers(length // 10, length - length // 10, size=n)
        other = rng.uniform(c.background_dbfs[0] - level, c.background_dbfs[1] - level)
        for i in np.nonzero(change)[0]:
            out[i, cut[i]:] *= np.float32(10 ** (other[i] / 20))
        return out

    def __call__(self, words: np.ndarray, spans: np.ndarray, partial: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Stream windows of a batch of word clips.

        Parameters
        ----------
        words : np.ndarray [shape=(n, samples), float32]
            Word clips.
        spans : np.ndarray [shape=(n, 2), int]
            Start and end of each clip's spoken part (:func:`spoken_span`).
        partial : np.ndarray [shape=(n,), bool]
            Rows to cut to a partial word: only ``partial_visible`` of the spoken part stays inside,
            at the window's start (the word's end) or its end (the word's start).

        Returns
        -------
        np.ndarray [shape=(n, samples), float32] clipped to [-1, 1)
        """
        c = self.config
        n, length = words.shape
        bg = self.background(n, length, rng)
        gains = rng.uniform(c.gain_db[0], c.gain_db[1], size=n)
        snr_on = rng.random(n) < c.word_snr_prob
        snr = rng.uniform(*c.word_snr_db, size=n)
        visible = rng.uniform(*c.partial_visible, size=n)
        left = rng.random(n) < 0.5
        u = rng.random(n)
        factors = speed_factors(c, n, rng) if c.speed_prob > 0 else np.ones(n)
        out = np.empty_like(bg)
        for i in range(n):
            a, b = int(spans[i, 0]), int(spans[i, 1])
            part = words[i, a:b] if b > a else words[i]
            if factors[i] != 1.0:
                part = change_speed(part, float(factors[i]))
            L = len(part)
            part = part * np.float32(10 ** (gains[i] / 20))
            if snr_on[i]:
                p_w, p_b = float(np.mean(part.astype(np.float64) ** 2)), float(np.mean(bg[i].astype(np.float64) ** 2))
                if p_w > 0 and p_b > 0:
                    part = part * np.float32(np.sqrt(p_b * 10 ** (snr[i] / 10) / p_w))
            if partial[i]:
                keep = max(1, int(round(visible[i] * L)))
                start = keep - L if left[i] else length - keep
            elif L >= length:
                start = -int(u[i] * (L - length + 1))
            else:
                start = int(u[i] * (length - L + 1))
            out[i] = place_word(part, bg[i], start)
        return np.clip(out, -1.0, 32767 / 32768).astype(np.float32)
