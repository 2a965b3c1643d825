"""Streaming evaluation: what the board does with an hour of continuous audio.

Clip accuracy says little about a keyword spotter in the field, where it hears
audio continuously, runs every ``stride_ms`` on overlapping windows, and its
recognizer smooths, thresholds and suppresses. This module:

1. builds a long stream (:func:`build_stream`): test-split clips of the run's
   keywords and of other words placed at random gaps over background noise
   (the test part of each noise recording, looped), with the ground truth;
2. runs it through the **firmware's portable C core** (host build, via
   :mod:`tinykws.native`): streaming MFCC, the int8 input window, the int8 model
   on the TFLM interpreter every stride, and the C recognizer;
3. scores the detections (:func:`score_detections`): a detection is a **hit**
   when its label matches a keyword clip whose span it falls in, from the clip's
   start to ``HIT_WINDOW_AFTER_S`` after its end (the recognizer needs a few
   strides of evidence); each clip can be hit once. Every other detection (wrong
   label, no keyword there, a second detection of the same clip) is a **false
   accept**; a keyword clip without a hit is a **false reject**;
4. sweeps the threshold on the recorded raw scores (the recognizer is re-run,
   the model is not) and picks the lowest threshold whose false-accept rate is
   at most a target (:func:`sweep_thresholds`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.data.dataset import SILENCE, UNKNOWN, discover, load_examples
from tinykws.errors import UserError

HIT_WINDOW_AFTER_S = 1.0


@dataclass(frozen=True)
class Event:
    """A clip placed in the stream."""

    label: str  # keyword, or _unknown_ for other words
    start_s: float
    end_s: float
    source: str


@dataclass
class Stream:
    y: np.ndarray  # float32 audio
    sr: int
    events: list[Event]

    @property
    def hours(self) -> float:
        return len(self.y) / self.sr / 3600


def build_stream(run, dataset, *, hours: float = 1.0, seed: int = 0, gap_s: tuple[float, float] = (1.5, 5.0),
                 noise_gain: tuple[float, float] = (0.05, 0.3), unknown_share: float = 0.3) -> Stream:
    """Test clips at random gaps over looped background noise, ``hours`` long.

    Keyword and unknown clips come from the dataset's speaker-disjoint **test**
    split; the noise from the last 10 % of each ``_background_noise_`` recording
    (the part training never used), at a random gain per clip-gap segment.
    """
    spec = run.spec
    sr = spec.sample_rate
    keywords = [l for l in run.labels if l not in (UNKNOWN, SILENCE)]
    root = Path(dataset)
    present = [w for w in keywords if (root / w).is_dir()]
    if not present:
        raise UserError(f"{root} has none of the run's keywords ({', '.join(keywords)})")
    ds = discover(root, present, include_unknown=True)
    test = [e for e in ds.examples if e.split == "test" and e.kind == "clip"]
    kw = [e for e in test if e.label in present]
    unk = [e for e in test if e.label == UNKNOWN]
    if not kw:
        raise UserError(f"{root}: no keyword clips in the test split")
    Ykw, _ = load_examples(kw, sr, spec.clip_samples)
    Yunk, _ = load_examples(unk, sr, spec.clip_samples) if unk else (np.zeros((0, spec.clip_samples), np.float32), [])
    from tinykws.data.audio import load_audio

    noise = []
    for p in ds.noise_files:
        a = load_audio(p, sr).y
        noise.append(a[int(len(a) * 0.9):])
    noise = [n for n in noise if len(n) > sr // 10]
    rng = np.random.default_rng([seed, 11])
    total = int(hours * 3600 * sr)
    y = np.zeros(total, np.float32)
    events: list[Event] = []
    # Background first: consecutive segments from random noise files at random gains.
    pos = 0
    while noise and pos < total:
        src = noise[int(rng.integers(len(noise)))]
        seg = min(len(src), total - pos, int(rng.uniform(5, 20) * sr))
        start = int(rng.integers(0, len(src) - seg + 1))
        y[pos : pos + seg] = src[start : start + seg] * rng.uniform(*noise_gain)
        pos += seg
    # Then clips, trimmed to their spoken part so events have honest spans.
    t = int(rng.uniform(*gap_s) * sr)
    while True:
        use_unknown = len(Yunk) and rng.random() < unknown_share
        if use_unknown:
            i = int(rng.integers(len(Yunk)))
            clip, label, src = Yunk[i], UNKNOWN, unk[i].rel
        else:
            i = int(rng.integers(len(Ykw)))
            clip, label, src = Ykw[i], kw[i].label, kw[i].rel
        a, b = _spoken_span(clip, sr)
        part = clip[a:b]
        if t + len(part) >= total:
            break
        y[t : t + len(part)] += part
        events.append(Event(label, t / sr, (t + len(part)) / sr, src))
        t += len(part) + int(rng.uniform(*gap_s) * sr)
    np.clip(y, -1.0, 32767 / 32768, out=y)
    return Stream(y, sr, events)


def _spoken_span(clip: np.ndarray, sr: int) -> tuple[int, int]:
    """Start and end sample of the part of a clip above 10 % of its peak 20 ms energy."""
    hop = sr // 50
    e = np.array([np.mean(clip[i : i + hop] ** 2) for i in range(0, len(clip) - hop + 1, hop)])
    if e.max() <= 0:
        return 0, len(clip)
    on = np.nonzero(e >= 0.1 * e.max())[0]
    return int(on[0] * hop), int(min(len(clip), (on[-1] + 1) * hop))


@dataclass(frozen=True)
class Detection:
    t_s: float
    label: str
    score: float


def score_detections(events: list[Event], detections: list[Detection], hours: float,
                     after_s: float = HIT_WINDOW_AFTER_S) -> dict:
    """Hits, false rejects and false accepts (see the module docstring for the rules)."""
    kw_events = [(i, e) for i, e in enumerate(events) if e.label != UNKNOWN]
    hit = set()
    fa = []
    starts = np.array([e.start_s for _, e in kw_events])
    for d in sorted(detections, key=lambda d: d.t_s):
        match = None
        # Candidate events whose window [start, end + after] contains the detection.
        j = int(np.searchsorted(starts, d.t_s, side="right"))
        for k in range(j - 1, max(j - 4, -1), -1):
            i, e = kw_events[k]
            if e.start_s <= d.t_s <= e.end_s + after_s and e.label == d.label and i not in hit:
                match = i
                break
        if match is None:
            fa.append(d)
        else:
            hit.add(match)
    n_kw = len(kw_events)
    per_label: dict[str, dict[str, int]] = {}
    for i, e in kw_events:
        p = per_label.setdefault(e.label, {"spoken": 0, "hits": 0})
        p["spoken"] += 1
        p["hits"] += int(i in hit)
    fa_by = {}
    for d in fa:
        fa_by[d.label] = fa_by.get(d.label, 0) + 1
    return {
        "keywords_spoken": n_kw,
        "hits": len(hit),
        "false_rejects": n_kw - len(hit),
        "hit_rate": round(len(hit) / n_kw, 4) if n_kw else None,
        "false_reject_rate": round(1 - len(hit) / n_kw, 4) if n_kw else None,
        "false_accepts": len(fa),
        "false_accepts_per_hour": round(len(fa) / hours, 2) if hours else None,
        "false_accepts_by_label": fa_by,
        "per_keyword": per_label,
        "unknown_words_spoken": sum(1 for e in events if e.label == UNKNOWN),
        "hit_window": f"from a keyword clip's start to {after_s:g} s after its end, same label, once per clip",
    }


def sweep_thresholds(events, times_ms, scores, labels, recognizer, hours, *, thresholds=None,
                     recognize: Callable) -> list[dict]:
    """False rejects vs false accepts per hour over thresholds (the recognizer re-run on recorded scores)."""
    thresholds = thresholds if thresholds is not None else np.round(np.arange(0.30, 0.99, 0.05), 2)
    out = []
    for th in thresholds:
        dets = recognize(times_ms, scores, labels, replace(recognizer, threshold=float(th)))
        s = score_detections(events, dets, hours)
        out.append({"threshold": float(th), "false_reject_rate": s["false_reject_rate"],
                    "false_accepts_per_hour": s["false_accepts_per_hour"], "hits": s["hits"]})
    return out


def pick_operating_point(sweep: list[dict], target_fa_per_hour: float) -> dict | None:
    """The lowest threshold (fewest false rejects) whose false accepts per hour are within the target."""
    ok = [p for p in sweep if p["false_accepts_per_hour"] is not None and p["false_accepts_per_hour"] <= target_fa_per_hour]
    return min(ok, key=lambda p: (p["false_reject_rate"], p["threshold"])) if ok else None


def plot_sweep(sweep: list[dict], path: Path, chosen: dict | None = None) -> None:
    from tinykws.plots import _plt, _save

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    fa = [p["false_accepts_per_hour"] for p in sweep]
    fr = [100 * p["false_reject_rate"] for p in sweep]
    ax.plot(fa, fr, "o-")
    for p, x, y_ in zip(sweep, fa, fr):
        ax.annotate(f"{p['threshold']:.2f}", (x, y_), fontsize=6, xytext=(3, 3), textcoords="offset points")
    if chosen:
        ax.plot([chosen["false_accepts_per_hour"]], [100 * chosen["false_reject_rate"]], "r*", ms=12, label=f"chosen {chosen['threshold']:.2f}")
        ax.legend()
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("false rejects (%)")
    ax.set_title("threshold sweep (streaming, C core + TFLM)")
    ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)
