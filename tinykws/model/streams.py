"""Streams while training: scoring a float model every stride, hard negatives, a validation stream.

A keyword model is used on a stream: every ``stride_ms`` on the last second of
audio. Training uses streams twice (both with the float Keras model, so nothing
here needs the int8 model or the board's code; the run's final figures come
from the evaluation stages):

- **hard-negative mining** (:func:`mine_windows`): a long stream holding no
  keyword (training speakers' other words, synthetic non-keywords, the training
  part of the noise; :func:`negative_stream`) is scored every stride, and the
  windows where a keyword scores above a threshold become training examples of
  ``_unknown_`` (a word is in the window) or ``_silence_`` (only background);
- **checkpoint choice** (:func:`stream_hit_rate`): the hit rate on a quiet
  validation stream (validation speakers and noise, ``docs/evaluation.md``'s layout)
  at the recognizer setting that keeps within a false-accept target.

Window scores are exact slices of one MFCC pass over the stream: with no centre
padding, the window starting at sample ``k * hop_length`` has frames ``k .. k + n_frames - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.data.augment import rms_dbfs
from tinykws.features import compute_mfcc
from tinykws.spec import FeatureSpec


@dataclass
class TrainingStream:
    """A stream built for training: audio and the sample spans of the words in it."""

    y: np.ndarray  # float32
    spans: np.ndarray  # [n_words, 2] start, end sample
    labels: list[str]  # each word's label (keyword or _unknown_)


def negative_stream(words: list[np.ndarray], noise: list[np.ndarray], sr: int, seconds: float, rng: np.random.Generator,
                    *, gap_s: tuple[float, float] = (0.3, 3.0), noise_dbfs: tuple[float, float] = (-65.0, -30.0)) -> TrainingStream:
    """Words (spoken parts) at random gaps over background segments at random levels; no keyword in it.

    Gaps are shorter than the evaluation streams' so a stream of a given length holds more words.
    """
    total = int(seconds * sr)
    y = np.zeros(total, np.float32)
    pos = 0
    while pos < total:
        seg = min(total - pos, int(rng.uniform(3, 15) * sr))
        if noise:
            src = noise[int(rng.integers(len(noise)))]
            if len(src) < seg:
                src = np.tile(src, seg // max(len(src), 1) + 1)
            start = int(rng.integers(0, len(src) - seg + 1))
            piece = src[start : start + seg].astype(np.float32)
        else:
            piece = rng.normal(0, 1, seg).astype(np.float32)
        lvl = float(rms_dbfs(piece))
        gain = 10 ** ((rng.uniform(*noise_dbfs) - lvl) / 20) if np.isfinite(lvl) else 0.0
        y[pos : pos + seg] = piece * np.float32(gain)
        pos += seg
    spans = []
    t = int(rng.uniform(*gap_s) * sr)
    while words:
        w = words[int(rng.integers(len(words)))]
        w = w * np.float32(10 ** (rng.uniform(-10, 6) / 20))
        if t + len(w) >= total:
            break
        y[t : t + len(w)] += w
        spans.append((t, t + len(w)))
        t += len(w) + int(rng.uniform(*gap_s) * sr)
    np.clip(y, -1.0, 32767 / 32768, out=y)
    return TrainingStream(y, np.array(spans, np.int64).reshape(-1, 2), ["_unknown_"] * len(spans))


def window_starts(n_samples: int, spec: FeatureSpec, stride_ms: int) -> np.ndarray:
    """Start sample of every full window at ``stride_ms``."""
    step = spec.sample_rate * stride_ms // 1000
    return np.arange(0, n_samples - spec.clip_samples + 1, step, dtype=np.int64)


def window_scores(model, y: np.ndarray, spec: FeatureSpec, stride_ms: int = 100, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Float model scores of every window of ``y`` at ``stride_ms``.

    Returns
    -------
    starts : np.ndarray [shape=(n,), int] window start samples
    scores : np.ndarray [shape=(n, n_labels), float32]
    """
    if stride_ms % spec.hop_ms:
        raise ValueError(f"stride {stride_ms} ms is not a multiple of the hop ({spec.hop_ms} ms)")
    starts = window_starts(len(y), spec, stride_ms)
    if len(starts) == 0:
        return starts, np.zeros((0, int(model.output.shape[-1])), np.float32)
    frames = compute_mfcc(y, spec)
    view = np.lib.stride_tricks.sliding_window_view(frames, spec.n_frames, axis=0)  # [n, n_mfcc, n_frames]
    k = stride_ms // spec.hop_ms
    idx = (starts // spec.hop_length).astype(np.int64)
    assert np.all(idx % k == 0)
    out = []
    for i in range(0, len(idx), batch_size):
        x = np.ascontiguousarray(np.transpose(view[idx[i : i + batch_size]], (0, 2, 1)))
        out.append(np.asarray(model(x, training=False), np.float32))
    return starts, np.concatenate(out)


def mine_windows(model, stream: TrainingStream, spec: FeatureSpec, keyword_index: np.ndarray, *, threshold: float,
                 max_windows: int, stride_ms: int = 100, min_gap_ms: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Windows of a keyword-free stream where a keyword scores at least ``threshold``.

    The highest-scoring windows first, each at least ``min_gap_ms`` from one already
    taken (neighbouring windows are nearly the same example), at most ``max_windows``.

    Returns
    -------
    audio : np.ndarray [shape=(k, clip_samples), float32]
    has_word : np.ndarray [shape=(k,), bool]
        Whether a word overlaps the window (else it holds only background).
    """
    starts, scores = window_scores(model, stream.y, spec, stride_ms)
    n = spec.clip_samples
    if len(starts) == 0:
        return np.zeros((0, n), np.float32), np.zeros(0, bool)
    top = scores[:, keyword_index].max(axis=1)
    order = np.argsort(-top, kind="stable")
    order = order[top[order] >= threshold]
    gap = spec.sample_rate * min_gap_ms // 1000
    taken: list[int] = []
    for i in order:
        if len(taken) >= max_windows:
            break
        if all(abs(int(starts[i]) - int(starts[j])) >= gap for j in taken[-200:]):
            taken.append(int(i))
    taken.sort()
    audio = np.stack([stream.y[starts[i] : starts[i] + n] for i in taken]) if taken else np.zeros((0, n), np.float32)
    sp = stream.spans
    has_word = np.array([bool(np.any((sp[:, 0] < starts[i] + n) & (sp[:, 1] > starts[i]))) for i in taken], bool)
    return audio.astype(np.float32), has_word


def validation_stream(keywords: list[np.ndarray], keyword_labels: list[str], others: list[np.ndarray],
                      noise: list[np.ndarray], sr: int, minutes: float):
    """A quiet stream of the evaluation protocol's layout (:func:`tinykws.evaluate.streaming.build_stream`)
    from the validation split's spoken parts and noise part."""
    from tinykws.evaluate.streaming import StreamSources, build_stream

    src = StreamSources("validation", sr, keywords, keyword_labels, [""] * len(keywords), others, [""] * len(others),
                        noise, "training")
    return build_stream(src, minutes=minutes, condition="quiet")


def stream_hit_rate(model, stream, labels: list[str], spec: FeatureSpec, target_fa_per_hour: float,
                    stride_ms: int = 100) -> dict:
    """Hit rate and false accepts per hour of the float model on ``stream`` at the best recognizer
    threshold within the target (the board's default smoothing)."""
    from tinykws.evaluate.streaming import StreamScores
    from tinykws.evaluate.tuning import Grid, sweep, pick

    starts, scores = window_scores(model, stream.y, spec, stride_ms)
    # An inference's time is the audio time of its window's last sample, as the board reports it.
    times_ms = ((starts + spec.clip_samples) * 1000 // spec.sample_rate).astype(np.int64)
    sc = StreamScores(stream.events, stream.hours, times_ms, scores, list(labels), int(stride_ms), "float")
    grid = Grid(average_windows_ms=(500,), min_counts=(3,), suppressions_ms=(1000,), stride_multiples=(1,))
    best, met = pick(sweep(sc, stride_ms, grid), target_fa_per_hour)
    return {"hit_rate": float(best["hit_rate"]), "fa_per_hour": float(best["fa_per_hour"]),
            "threshold": float(best["threshold"]), "target_met": bool(met)}
