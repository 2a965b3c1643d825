"""Streaming evaluation: what the board does with an hour of continuous audio.

Clip accuracy says little about a keyword spotter in the field, where it hears
audio continuously, runs every ``stride_ms`` on overlapping windows, and its
recognizer smooths, thresholds and suppresses. This module:

1. builds a long stream (:func:`build_stream`): test-split clips of the run's
   keywords and of other words placed at random gaps over background noise
   (the test part of each noise recording, looped), with the ground truth;
2. runs it through the **firmware's portable C core** (host build, via
   :mod:`tinykws.target.native`): streaming MFCC, the int8 input window, the int8 model
   on the TFLM interpreter every stride, and the C recognizer;
3. scores the detections (:func:`score_detections`): a detection is a **hit**
   when its label matches a keyword clip whose span it falls in, from the clip's
   start to ``HIT_WINDOW_AFTER_S`` after its end (the recognizer needs a few
   strides of evidence); each clip can be hit once. Every other detection (wrong
   label, no keyword there, a second detection of the same clip) is a **false
   accept**; a keyword clip without a hit is a **false reject**;
4. keeps the raw scores (:class:`StreamScores`), so :mod:`tinykws.evaluate.tuning`
   can re-run the recognizer with other settings without re-running the model.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
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
                 noise_dbfs: tuple[float, float] = (-55.0, -35.0), unknown_share: float = 0.3) -> Stream:
    """Test clips at random gaps over looped background noise, ``hours`` long.

    Keyword and unknown clips come from the dataset's speaker-disjoint **test**
    split; the noise from the last 10 % of each ``_background_noise_`` recording
    (the part training never used), in segments of 5-20 s each scaled to a random
    RMS level in ``noise_dbfs`` (a quiet room to a busy one); clips keep their
    recorded level.
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
        part = src[start : start + seg]
        rms = float(np.sqrt(np.mean(part.astype(np.float64) ** 2))) or 1.0
        y[pos : pos + seg] = part * (10 ** (rng.uniform(*noise_dbfs) / 20) / rms)
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


def scores_over_stream(run, pcm: np.ndarray, *, log: Callable[[str], None] | None = None):
    """Run int16 audio through the firmware core's loop with the int8 model on TFLM.

    Returns
    -------
    times_ms : np.ndarray [shape=(n,)]
        Audio time of every inference.
    scores : np.ndarray [shape=(n, n_labels), float32]
        Dequantized model outputs, exactly as the core computed them.
    detections : list of Detection
        What the core's recognizer reported at the run's threshold.
    latency_us : np.ndarray [shape=(n, 3)]
        feat_us, inf_us, total_us of each inference (host timings).
    """
    from tinykws.board.protocol import Detection as DetLine
    from tinykws.board.protocol import Inference, parse_line
    from tinykws.target.native import App
    from tinykws.target.tflm import TflmModel

    model = TflmModel(run.tflite_bytes, run.arena_bytes)
    outputs: list[np.ndarray] = []

    def engine(x):
        q = model.predict_one(x)
        outputs.append(q)
        return q

    infs, dets = [], []

    def sink(line):
        r = parse_line(line)
        if isinstance(r, Inference):
            infs.append(r)
        elif isinstance(r, DetLine):
            dets.append(Detection(r.t_ms / 1000, r.label, r.score))

    app = App(run, engine, sink, stats_period_ms=3_600_000)
    chunk = run.spec.sample_rate * 10
    t0 = time.perf_counter()
    for i in range(0, len(pcm), chunk):
        app.feed(pcm[i : i + chunk])
        app.step()
        if log and (i // chunk) % 60 == 59:
            log(f"  {i / run.spec.sample_rate / 60:.0f} min of audio processed ({time.perf_counter() - t0:.0f} s)")
    if len(outputs) != len(infs):
        raise RuntimeError("inference lines and engine calls disagree")
    q = np.stack(outputs) if outputs else np.zeros((0, len(run.labels)), np.int8)
    zp, scale = run.report["model"]["output_zero_point"], np.float32(run.report["model"]["output_scale"])
    scores = ((q.astype(np.int32) - zp).astype(np.float32) * scale).astype(np.float32)
    times = np.array([r.t_ms for r in infs], np.int64)
    lat = np.array([[r.feat_us, r.inf_us, r.total_us] for r in infs], np.int64).reshape(-1, 3)
    return times, scores, dets, lat


def recognize(times_ms, scores, labels, recognizer) -> list[Detection]:
    """Replay recorded scores through the core's C recognizer with other settings."""
    from tinykws.target.native import Recognizer

    r = Recognizer(labels, recognizer)
    out = []
    for t, s in zip(times_ms, scores):
        d = r.push(s, int(t))
        if d is not None:
            out.append(Detection(int(t) / 1000, labels[d[0]], d[1]))
    return out


@dataclass
class StreamScores:
    """What one pass of the board's code over a stream produced: enough to re-run the recognizer."""

    events: list[Event]
    hours: float
    times_ms: np.ndarray
    scores: np.ndarray
    labels: list[str]


def evaluate_streaming(run, dataset, *, hours: float = 1.0, seed: int = 0,
                       log: Callable[[str], None] | None = None) -> tuple[dict, StreamScores]:
    """Hits, false rejects and false accepts per hour of ``run`` at its own recognizer settings.

    Returns the result (JSON-ready) and the recorded scores, which
    :mod:`tinykws.evaluate.tuning` replays with other settings.
    """
    from tinykws.data.audio import to_int16

    say = log or (lambda s: None)
    t0 = time.perf_counter()
    stream = build_stream(run, dataset, hours=hours, seed=seed)
    say(f"stream: {stream.hours * 60:.1f} min, {sum(e.label != UNKNOWN for e in stream.events)} keywords and "
        f"{sum(e.label == UNKNOWN for e in stream.events)} other words over background noise")
    times, scores, dets, lat = scores_over_stream(run, to_int16(stream.y), log=say)
    result = score_detections(stream.events, dets, stream.hours)
    # The core's own detections and a replay of its recognizer must agree: tuning relies on it.
    replay = recognize(times, scores, run.labels, run.recognizer)
    result["replay_matches_core"] = [(d.t_s, d.label) for d in replay] == [(d.t_s, d.label) for d in dets]
    result.update({
        "hours": round(stream.hours, 4), "threshold": run.recognizer.threshold, "recognizer": asdict(run.recognizer),
        "inferences": int(len(times)),
        "host_latency_us_p50": {k: int(np.percentile(lat[:, i], 50)) for i, k in enumerate(("feat", "inf", "total"))} if len(lat) else {},
        "engine": "firmware core (host build): streaming MFCC, int8 window, recognizer; model on the TFLM interpreter",
        "seconds": round(time.perf_counter() - t0, 1),
    })
    return result, StreamScores(stream.events, stream.hours, times, scores, list(run.labels))
