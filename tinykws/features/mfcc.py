"""MFCC features, computed in batches, exactly as the firmware computes them frame by frame.

The extractor follows :class:`tinykws.spec.FeatureSpec` to the letter: frames of
``n_fft`` samples every ``hop_length`` samples with no centre padding, a periodic
window of ``win_length`` samples centred in the frame, ``|rfft|**power``, a
librosa mel filterbank, ``10 * log10(max(S, log_floor))`` with no clipping against
the clip's maximum, and an orthonormal DCT-II. The filterbank and window come
from librosa, so the result equals ``librosa.feature.mfcc`` called with the same
parameters (``scripts/bench_features.py`` checks that), but whole batches go
through one FFT call spread over the cores.

The tables (window, mel weights, DCT matrix) are also what the firmware's
generated header carries, so :func:`feature_tables` is the single place they are
made.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

from tinykws.spec import FeatureSpec


@dataclass(frozen=True)
class FeatureTables:
    """Constant tables derived from a spec.

    Attributes
    ----------
    window : np.ndarray [shape=(n_fft,), float32]
        Analysis window zero-padded (centred) to ``n_fft``.
    mel : np.ndarray [shape=(n_mels, n_bins), float32]
        Mel filterbank.
    dct : np.ndarray [shape=(n_mfcc, n_mels), float32]
        DCT-II matrix (first ``n_mfcc`` rows).
    """

    window: np.ndarray
    mel: np.ndarray
    dct: np.ndarray


@lru_cache(maxsize=8)
def feature_tables(spec: FeatureSpec) -> FeatureTables:
    """Build (and cache) the window, mel filterbank and DCT matrix for ``spec``."""
    import librosa  # imported lazily: the first import costs about a second

    win = librosa.filters.get_window(spec.window, spec.win_length, fftbins=True).astype(np.float32)
    window = librosa.util.pad_center(win, size=spec.n_fft).astype(np.float32)
    mel = librosa.filters.mel(
        sr=spec.sample_rate,
        n_fft=spec.n_fft,
        n_mels=spec.n_mels,
        fmin=spec.fmin,
        fmax=spec.fmax,
        htk=spec.mel_htk,
        norm="slaney" if spec.mel_norm == "slaney" else None,
        dtype=np.float32,
    )
    eye = np.eye(spec.n_mels, dtype=np.float64)
    dct = scipy.fft.dct(eye, type=spec.dct_type, norm="ortho" if spec.dct_norm == "ortho" else None, axis=0)
    dct = dct[: spec.n_mfcc].astype(np.float32)
    for a in (window, mel, dct):
        a.setflags(write=False)
    return FeatureTables(window=window, mel=mel, dct=dct)


@lru_cache(maxsize=8)
def silence_mfcc(spec: FeatureSpec) -> np.ndarray:
    """The MFCC frame of digital silence: every mel band at the log floor, through the DCT.

    What :func:`compute_mfcc` gives for a frame of zeros (``c0 = 10 log10(log_floor)``
    times the DCT's first row sum, every other coefficient 0 for the orthonormal DCT).
    SpecAugment masks fill with it, so a masked frame looks like a real silent frame.

    Returns
    -------
    np.ndarray [shape=(n_mfcc,), float32] (read-only)
    """
    tables = feature_tables(spec)
    log_mel = np.full(spec.n_mels, np.float32(10.0) * np.log10(np.float32(spec.log_floor)), np.float32)
    out = (log_mel @ tables.dct.T).astype(np.float32)
    out.setflags(write=False)
    return out


def pcm_to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM to float32 in [-1, 1) (divide by 32768); floats pass through as float32."""
    pcm = np.asarray(pcm)
    if pcm.dtype == np.int16:
        return pcm.astype(np.float32) / np.float32(32768.0)
    return pcm.astype(np.float32, copy=False)


def fit_clip(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Crop or zero-pad the last axis to exactly one clip (``clip_samples``)."""
    n = spec.clip_samples
    if y.shape[-1] == n:
        return y
    if y.shape[-1] > n:
        return y[..., :n]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, n - y.shape[-1])]
    return np.pad(y, pad)


def _mfcc_block(y: np.ndarray, spec: FeatureSpec, tables: FeatureTables) -> np.ndarray:
    # y: (batch, samples) float32 -> (batch, n_frames, n_mfcc)
    n_frames = 1 + (y.shape[-1] - spec.n_fft) // spec.hop_length
    frames = np.lib.stride_tricks.sliding_window_view(y, spec.n_fft, axis=-1)[:, :: spec.hop_length][:, :n_frames]
    spec_c = scipy.fft.rfft(frames * tables.window, axis=-1)
    mag = np.abs(spec_c).astype(np.float32)
    S = mag * mag if spec.power == 2.0 else mag
    mel = S @ tables.mel.T  # (batch, frames, n_mels)
    log_mel = np.float32(10.0) * np.log10(np.maximum(mel, np.float32(spec.log_floor)))
    return (log_mel @ tables.dct.T).astype(np.float32)


def compute_mfcc(
    y: np.ndarray,
    spec: FeatureSpec,
    *,
    batch_size: int = 64,
    workers: int | None = None,
) -> np.ndarray:
    """MFCCs of one clip or a batch of clips.

    Parameters
    ----------
    y : np.ndarray [shape=(samples,) or (batch, samples)]
        int16 PCM or float audio in [-1, 1). Any length of at least ``n_fft``
        samples; a clip of ``clip_samples`` gives ``spec.n_frames`` frames.
    spec : FeatureSpec
    batch_size : int
        Clips per block handed to one worker thread.
    workers : int or None
        Threads; default: the number of CPUs.

    Returns
    -------
    np.ndarray [shape=(n_frames, n_mfcc) or (batch, n_frames, n_mfcc), float32]
    """
    y = pcm_to_float(y)
    single = y.ndim == 1
    if single:
        y = y[None, :]
    if y.ndim != 2:
        raise ValueError(f"expected audio of shape (samples,) or (batch, samples), got {y.shape}")
    if y.shape[-1] < spec.n_fft:
        raise ValueError(f"audio of {y.shape[-1]} samples is shorter than one frame ({spec.n_fft})")
    tables = feature_tables(spec)
    blocks = [y[i : i + batch_size] for i in range(0, len(y), batch_size)]
    workers = workers or os.cpu_count() or 1
    if len(blocks) <= 1 or workers <= 1:
        out = [_mfcc_block(b, spec, tables) for b in blocks]
    else:
        # numpy and scipy.fft release the GIL, so threads use every core without copying.
        with ThreadPoolExecutor(max_workers=min(workers, len(blocks))) as pool:
            out = list(pool.map(lambda b: _mfcc_block(b, spec, tables), blocks))
    feats = np.concatenate(out, axis=0) if out else np.zeros((0, *spec.input_shape), np.float32)
    return feats[0] if single else feats


def librosa_mfcc(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Reference: ``librosa.feature.mfcc`` with every parameter taken from ``spec``.

    Slow (one clip per call); used by tests and the benchmark to check
    :func:`compute_mfcc`. Returns shape ``(n_frames, n_mfcc)``.
    """
    import librosa

    y = pcm_to_float(y)
    S = librosa.feature.melspectrogram(
        y=y,
        sr=spec.sample_rate,
        n_fft=spec.n_fft,
        hop_length=spec.hop_length,
        win_length=spec.win_length,
        window=spec.window,
        center=False,
        power=spec.power,
        n_mels=spec.n_mels,
        fmin=spec.fmin,
        fmax=spec.fmax,
        htk=spec.mel_htk,
        norm="slaney" if spec.mel_norm == "slaney" else None,
    )
    log_S = librosa.power_to_db(S, ref=1.0, amin=spec.log_floor, top_db=None)
    m = librosa.feature.mfcc(
        S=log_S,
        n_mfcc=spec.n_mfcc,
        dct_type=spec.dct_type,
        norm="ortho" if spec.dct_norm == "ortho" else None,
        lifter=0,
    )
    return m.T.astype(np.float32)
