"""Test data the tests make themselves: tone "words" that any model learns in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def chirp(f0: float, f1: float, dur_s: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(dur_s * sr)) / sr
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * dur_s))
    env = np.sin(np.pi * t / dur_s) ** 2
    return (np.sin(phase) * env).astype(np.float32)


WORDS = {
    "up": (300.0, 1800.0),
    "down": (1800.0, 300.0),
    "flat": (900.0, 950.0),  # used as an "other word" -> _unknown_
}


def word_clip(word: str, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    f0, f1 = WORDS[word]
    scale = rng.uniform(0.85, 1.15)
    dur = rng.uniform(0.35, 0.6)
    w = chirp(f0 * scale, f1 * scale, dur, sr) * rng.uniform(0.2, 0.7)
    y = np.zeros(sr, np.float32)
    start = int(rng.integers(0, sr - len(w)))
    y[start : start + len(w)] = w
    y += rng.normal(0, 0.003, sr).astype(np.float32)
    return y


def make_tone_dataset(root: Path, *, speakers: int = 24, per_word: int = 3, seed: int = 0, noise_s: float = 20.0) -> Path:
    """A Speech Commands style dataset of chirp "words" (up, down, flat) plus background noise."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for word in WORDS:
        (root / word).mkdir(parents=True, exist_ok=True)
        for s in range(speakers):
            for k in range(per_word):
                y = word_clip(word, rng)
                sf.write(root / word / f"spk{s:03d}_nohash_{k}.wav", (y * 32767).astype(np.int16), SR, subtype="PCM_16")
    (root / "_background_noise_").mkdir(exist_ok=True)
    n = rng.normal(0, 0.05, int(noise_s * SR)).astype(np.float32)
    sf.write(root / "_background_noise_" / "white.wav", (n * 32767).astype(np.int16), SR, subtype="PCM_16")
    return root


def keyword_stream(words: list[str], *, gap_s: float = 1.0, seed: int = 1, sr: int = SR) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """Words separated by quiet gaps; returns audio and (word, centre time in s) pairs."""
    rng = np.random.default_rng(seed)
    parts, marks, t = [np.zeros(int(gap_s * sr), np.float32)], [], gap_s
    for w in words:
        f0, f1 = WORDS[w]
        c = chirp(f0, f1, 0.5, sr) * 0.5
        parts.append(c)
        marks.append((w, t + 0.25))
        t += 0.5
        parts.append(np.zeros(int(gap_s * sr), np.float32))
        t += gap_s
    y = np.concatenate(parts) + rng.normal(0, 0.003, sum(len(p) for p in parts)).astype(np.float32)
    return y.astype(np.float32), marks


def oracle_engine(run, marks: list[tuple[str, float]], now_ms, *, confidence: float = 0.95):
    """An inference engine that hears exactly the words in ``marks``, with scores far from any threshold.

    It stands in for a trained model where a test checks the loop around the
    model (windows, timing, recognizer, protocol), so the outcome cannot depend
    on the floating-point details of the machine that trained a model.
    ``now_ms()`` is the core's audio clock: a word counts as heard while its
    centre lies well inside the 1 s window (0.25-0.75 s before its end).
    Words the run does not know are ``_unknown_``.
    """
    labels = list(run.labels)
    idx = {l: i for i, l in enumerate(labels)}
    rest = idx.get("_silence_", idx.get("_unknown_", 0))
    q = run.report["model"]
    scale, zp = q["output_scale"], q["output_zero_point"]

    def engine(x):
        t = now_ms() / 1000
        k = rest
        for w, c in marks:
            if t - 0.75 <= c <= t - 0.25:
                k = idx.get(w, idx.get("_unknown_", rest))
        p = np.full(len(labels), (1 - confidence) / (len(labels) - 1))
        p[k] = confidence
        return np.clip(np.rint(p / scale) + zp, -128, 127).astype(np.int8)

    return engine
