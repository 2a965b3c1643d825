"""Streaming evaluation: what the board does with an hour of continuous audio.

The protocol is ``docs/evaluation.md``; this module implements it and its
constants are the protocol's numbers, stated once.

1. :func:`stream_sources` gathers a split's clips and its part of each noise
   recording; :func:`build_stream` lays them out as a stream (validation or
   test, quiet or noisy) with the ground truth;
2. :func:`stream_scores` runs the stream through the **firmware's portable C
   core** (host build, via :mod:`tinykws.boardcode.native`): streaming MFCC, the
   int8 input window, the int8 model on the board's engine every stride. It keeps
   the raw scores (:class:`StreamScores`); :func:`at_stride` gives the scores of
   any multiple of that stride without running the model again;
3. :func:`replay` re-runs the board's recognizer on recorded scores (a NumPy
   copy of ``kws_recognizer.c`` that gives the same detections, bit for bit —
   tests compare it with the C one, :func:`recognize`);
4. :func:`score_detections` applies the hit / false-accept rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.data.augment import spoken_parts
from tinykws.data.dataset import SILENCE, UNKNOWN, discover, load_examples
from tinykws.errors import UserError
from tinykws.recognizer import RECOGNIZER_MAX_HISTORY

#: Protocol version written into every report (``docs/evaluation.md``).
PROTOCOL = "docs/evaluation.md v3"
#: Length of a protocol stream.
STREAM_MINUTES = 60.0
#: Seed of each split's stream.
STREAM_SEEDS = {"validation": 1, "test": 0, "unseen": 0}
STREAM_SPLITS = ("validation", "test")
#: A folder the run never saw (other people's takes of its words): one stream of every clip in it.
UNSEEN = "unseen"
#: Gap between one word's end and the next word's start, seconds.
GAP_S = (1.5, 5.0)
#: Share of words that are other words (not keywords).
UNKNOWN_SHARE = 0.3
#: A composed dataset's split with at least this many clips of real other words (a ``--negatives``
#: folder, the user's own) hears those only in its streams: the synthetic other words
#: (tinykws.data.compose) stay for training, and only where real speech is too scarce do the
#: streams judge false accepts on them (docs/evaluation.md §1, step 2; §7).
REAL_OTHERS_MIN = 100
#: A detection hits a keyword clip from the clip's start to this long after its end.
HIT_WINDOW_AFTER_S = 1.0
CONDITIONS = ("quiet", "noisy")
#: RMS level range of the background segments, dBFS, per condition.
NOISE_DBFS = {"quiet": (-55.0, -35.0), "noisy": (-40.0, -25.0)}
#: Noisy condition: each word's SNR over its spoken span, dB.
NOISY_SNR_DB = (5.0, 10.0)
#: Part of each dataset noise recording a split's stream may use (training augments with the
#: first 80 %; the same parts give the ``_silence_`` crops of those splits, tinykws.data.dataset).
DATASET_NOISE_PARTS = {"validation": (0.8, 0.9), "test": (0.9, 1.0), UNSEEN: (0.0, 1.0)}
#: Part of each recording of a user's own noise folder (``--noise DIR``).
OWN_NOISE_PARTS = {"validation": (0.0, 0.5), "test": (0.5, 1.0), UNSEEN: (0.0, 1.0)}


@dataclass(frozen=True)
class Event:
    """A word placed in the stream."""

    label: str  # keyword, or _unknown_ for other words
    start_s: float
    end_s: float
    source: str


@dataclass
class Stream:
    y: np.ndarray  # float32 audio
    sr: int
    events: list[Event]
    split: str = "test"
    condition: str = "quiet"
    seed: int = 0
    noise: str = ""

    @property
    def hours(self) -> float:
        return len(self.y) / self.sr / 3600


@dataclass
class StreamSources:
    """What one split's streams are built from: spoken spans of its clips and its part of the noise."""

    split: str
    sr: int
    keywords: list[np.ndarray]
    keyword_labels: list[str]
    keyword_sources: list[str]
    others: list[np.ndarray]
    other_sources: list[str]
    noise: list[np.ndarray]
    noise_name: str
    #: Synthetic other-word clips of the split left out (real speech enough: :data:`REAL_OTHERS_MIN`).
    synthetic_left_out: int = 0


def _audio_in(folder: Path) -> list[Path]:
    from tinykws.data.dataset import AUDIO_SUFFIXES

    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))


def stream_sources(run, dataset, split: str, *, noise_dir: str | Path | None = None) -> StreamSources:
    """The ``split``'s keyword and other-word clips (spoken spans) and its part of every noise recording.

    ``split`` :data:`UNSEEN`: every clip and all of every noise recording (a folder the run never saw).

    Raises
    ------
    UserError
        No dataset folder, none of the run's keywords, no keyword clip in the split, an empty noise folder.
    """
    from tinykws.data.audio import load_audio

    if split not in (*STREAM_SPLITS, UNSEEN):
        raise ValueError(f"split must be one of {STREAM_SPLITS} or {UNSEEN!r}")
    spec = run.spec
    sr = spec.sample_rate
    from tinykws.data.compose import synthetic_folders
    from tinykws.evaluate.clips import keywords_in_dataset

    root, present = keywords_in_dataset(run, dataset)
    # Every other-word clip of the split is a candidate (unknown_share large enough to keep the whole pool).
    ds = discover(root, present, include_unknown=True, unknown_share=1e9, spec=spec)
    clips = [e for e in ds.examples if (e.split == split or split == UNSEEN) and e.kind == "clip"]
    kw = [e for e in clips if e.label in present]
    unk = [e for e in clips if e.label == UNKNOWN]
    synthetic = set(synthetic_folders(root))
    real = [e for e in unk if Path(e.rel).parts[0] not in synthetic]
    left_out = len(unk) - len(real) if len(real) >= REAL_OTHERS_MIN else 0
    if left_out:
        unk = real
    if not kw:
        raise UserError(f"{root}: no keyword clips in the {split} split" if split != UNSEEN else f"{root}: no keyword clips")
    Ykw, _ = load_examples(kw, sr, spec.clip_samples)
    Yunk, _ = load_examples(unk, sr, spec.clip_samples) if unk else (np.zeros((0, spec.clip_samples), np.float32), [])
    if noise_dir is not None:
        nd = Path(noise_dir)
        if not nd.is_dir():
            raise UserError(f"noise folder not found: {nd}")
        files, parts, name = _audio_in(nd), OWN_NOISE_PARTS[split], str(nd)
        if not files:
            raise UserError(f"{nd}: no audio files (wav, flac, ...) to use as background noise")
    else:
        files, parts, name = ds.noise_files, DATASET_NOISE_PARTS[split], f"{root.name}/_background_noise_"
    noise = []
    for p in files:
        a = load_audio(p, sr).y
        part = a[int(len(a) * parts[0]) : int(len(a) * parts[1])]
        if len(part) > sr // 10 and np.any(part):
            noise.append(part)
    if noise_dir is not None and not noise:
        raise UserError(f"{noise_dir}: the recordings are too short or silent to use as background noise")
    return StreamSources(split, sr, spoken_parts(Ykw, sr), [e.label for e in kw], [e.rel for e in kw],
                         spoken_parts(Yunk, sr), [e.rel for e in unk], noise,
                         f"{name} ({100 * parts[0]:.0f}-{100 * parts[1]:.0f} % of each recording)" if noise else "none",
                         synthetic_left_out=left_out)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2))) if len(x) else 0.0


def build_stream(src: StreamSources, *, minutes: float = STREAM_MINUTES, seed: int | None = None,
                 condition: str = "quiet") -> Stream:
    """Words of ``src`` at random gaps over its noise, ``minutes`` long (``docs/evaluation.md`` §1).

    The background, the words and the noisy condition's SNRs draw from three random
    streams of ``seed`` (default: the split's protocol seed), so the quiet and noisy
    streams hold the same words at the same times, and a shorter stream is the
    beginning of a longer one.
    """
    if condition not in CONDITIONS:
        raise UserError(f"unknown stream condition {condition!r} (one of {', '.join(CONDITIONS)})")
    if condition == "noisy" and not src.noise:
        raise UserError("the noisy condition needs background noise recordings (none for this dataset)")
    if minutes <= 0:
        raise UserError("stream length must be positive")
    seed = STREAM_SEEDS[src.split] if seed is None else int(seed)
    sr = src.sr
    rng_bg, rng_w, rng_snr = (np.random.default_rng([seed, 11, k]) for k in (1, 2, 3))
    total = int(round(minutes * 60 * sr))
    y = np.zeros(total, np.float32)
    lo, hi = NOISE_DBFS[condition]
    pos = 0
    while src.noise and pos < total:
        k = int(rng_bg.integers(len(src.noise)))
        length_s, level, where = rng_bg.uniform(5, 20), rng_bg.uniform(), rng_bg.uniform()
        part = src.noise[k]
        seg = min(len(part), int(length_s * sr))
        start = min(int(where * (len(part) - seg + 1)), len(part) - seg)
        piece = part[start : start + seg][: total - pos]
        y[pos : pos + len(piece)] = piece * (10 ** ((lo + level * (hi - lo)) / 20) / (_rms(part[start : start + seg]) or 1.0))
        pos += len(piece)
    events: list[Event] = []
    t = int(rng_w.uniform(*GAP_S) * sr)
    while True:
        other = len(src.others) > 0 and rng_w.uniform() < UNKNOWN_SHARE
        pool = src.others if other else src.keywords
        i = int(rng_w.integers(len(pool)))
        snr_db = rng_snr.uniform(*NOISY_SNR_DB)
        part = pool[i]
        if t + len(part) >= total:
            break
        if condition == "noisy":
            # SNR: the word's RMS over its spoken span against the background's over the same samples.
            part = part * np.float32(_rms(y[t : t + len(part)]) * 10 ** (snr_db / 20) / (_rms(part) or 1.0))
        y[t : t + len(part)] += part
        label, source = (UNKNOWN, src.other_sources[i]) if other else (src.keyword_labels[i], src.keyword_sources[i])
        events.append(Event(label, t / sr, (t + len(part)) / sr, source))
        t += len(part) + int(rng_w.uniform(*GAP_S) * sr)
    np.clip(y, -1.0, 32767 / 32768, out=y)
    return Stream(y, sr, events, src.split, condition, seed, src.noise_name)


# --- The board's code over a stream ----------------------------------------------------------------

@dataclass
class StreamScores:
    """What one pass of the board's code over a stream produced: enough to re-run the recognizer.

    ``scores[i]`` are the dequantized model outputs of the inference at audio time
    ``times_ms[i]``, one every ``stride_ms``.
    """

    events: list[Event]
    hours: float
    times_ms: np.ndarray
    scores: np.ndarray
    labels: list[str]
    stride_ms: int
    engine: str = ""


def model_engine(run, engine: str = "native") -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """The int8 model as the board runs it: ``(callable(int8 window) -> int8 scores, description)``.

    :func:`tinykws.boardcode.engines.model_engine`: the firmware's native int8 engine built for this
    computer (bit-exact with TFLM's kernels), or TFLM's kernels where it cannot run the model.
    """
    from tinykws.boardcode.engines import model_engine as board_engine

    predict, name = board_engine(run, engine)
    if name == "native" and getattr(getattr(predict, "net", None), "streamable", False):
        return predict, "native int8 engine, streaming mode (host build)"
    return predict, {"native": "native int8 engine (host build)", "tflm": "TFLM interpreter"}[name]


def stream_scores(run, stream: Stream, stride_ms: int, *, engine: str = "native",
                  log: Callable[[str], None] | None = None) -> StreamScores:
    """Run ``stream`` through the firmware core's loop at ``stride_ms``; the model's scores of every inference."""
    from tinykws.board.protocol import Inference, parse_line
    from tinykws.data.audio import to_int16
    from tinykws.boardcode.native import App

    rec = run.recognizer
    at = replace(run, recognizer=replace(rec, stride_ms=int(stride_ms), average_window_ms=max(rec.average_window_ms, int(stride_ms))))
    predict, name = model_engine(run, engine)
    outputs: list[np.ndarray] = []

    def invoke(x):
        q = predict(x)
        outputs.append(q)
        return q

    times: list[int] = []

    def sink(line):
        r = parse_line(line)
        if isinstance(r, Inference):
            times.append(r.t_ms)

    app = App(at, invoke, sink, stats_period_ms=3_600_000)
    pcm = to_int16(stream.y)
    chunk = stream.sr * 10
    t0 = time.perf_counter()
    for i in range(0, len(pcm), chunk):
        app.feed(pcm[i : i + chunk])
        app.step()
        if log and (i // chunk) % 60 == 59:
            log(f"  {i / stream.sr / 60:.0f} min of audio processed ({time.perf_counter() - t0:.0f} s)")
    if len(outputs) != len(times):
        raise RuntimeError("inference lines and engine calls disagree")
    q = np.stack(outputs) if outputs else np.zeros((0, len(run.labels)), np.int8)
    zp, scale = run.report["model"]["output_zero_point"], np.float32(run.report["model"]["output_scale"])
    scores = ((q.astype(np.int32) - zp).astype(np.float32) * scale).astype(np.float32)
    return StreamScores(stream.events, stream.hours, np.array(times, np.int64), scores, list(run.labels), int(stride_ms), name)


def at_stride(sc: StreamScores, stride_ms: int) -> StreamScores:
    """The scores at ``stride_ms``, a multiple of ``sc.stride_ms``: every k-th inference.

    The core infers at the first full window and then every stride, so at k times the
    stride it infers exactly at every k-th of these times (a test runs the core to show it).
    """
    if stride_ms == sc.stride_ms:
        return sc
    if stride_ms <= 0 or stride_ms % sc.stride_ms:
        raise ValueError(f"stride {stride_ms} ms is not a multiple of the recorded {sc.stride_ms} ms")
    k = stride_ms // sc.stride_ms
    return replace(sc, times_ms=sc.times_ms[::k], scores=sc.scores[::k], stride_ms=int(stride_ms))


# --- The recognizer -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Detection:
    t_s: float
    label: str
    score: float




@dataclass
class Smoothed:
    """The recognizer's averaged scores before threshold and suppression (one window and min_count)."""

    times_ms: np.ndarray
    best: np.ndarray  # label index of the highest average
    score: np.ndarray  # float32, that average
    eligible: np.ndarray  # enough inferences, and the best is a keyword


def smooth(times_ms: np.ndarray, scores: np.ndarray, labels: list[str], average_window_ms: int, min_count: int) -> Smoothed:
    """What ``kws_recognizer_push`` averages at every inference, with its float32 arithmetic in its order."""
    n = len(times_ms)
    t = np.asarray(times_ms, np.int64)
    s = np.asarray(scores, np.float32)
    idx = np.arange(n)
    # Entries kept: newer than the window (t_i - t_j < W), at most the history's size, at least one.
    first = np.searchsorted(t, t - int(average_window_ms), side="right")
    first = np.minimum(np.maximum(first, idx - (RECOGNIZER_MAX_HISTORY - 1)), idx)
    count = idx - first + 1
    acc = np.zeros_like(s)
    for off in range(int(count.max()) - 1 if n else -1, -1, -1):
        j = idx - off
        use = j >= first
        acc[use] += s[j[use]]  # oldest first, as the C loop sums
    avg = acc / count.astype(np.float32)[:, None] if n else acc
    best = np.argmax(avg, axis=1) if n else np.zeros(0, np.int64)
    score = avg[idx, best] if n else np.zeros(0, np.float32)
    skip = [labels.index(l) for l in (SILENCE, UNKNOWN) if l in labels]
    eligible = (count >= int(min_count)) & ~np.isin(best, skip)
    return Smoothed(t, best, score.astype(np.float32), eligible)


def detect(sm: Smoothed, threshold: float, suppression_ms: int) -> np.ndarray:
    """Indices of the inferences that detect: at or above ``threshold``, outside the suppression."""
    cand = np.nonzero(sm.eligible & (sm.score >= np.float32(threshold)))[0]
    out = []
    last = None
    for i in cand:
        t = int(sm.times_ms[i])
        if last is None or t - last >= suppression_ms:
            out.append(i)
            last = t
    return np.array(out, np.int64)


def replay(times_ms, scores, labels, recognizer) -> list[Detection]:
    """The detections the board's recognizer makes with ``recognizer``'s settings on recorded scores."""
    sm = smooth(times_ms, scores, list(labels), recognizer.average_window_ms, recognizer.min_count)
    return [Detection(int(sm.times_ms[i]) / 1000, labels[int(sm.best[i])], float(sm.score[i]))
            for i in detect(sm, recognizer.threshold, recognizer.suppression_ms)]


def recognize(times_ms, scores, labels, recognizer) -> list[Detection]:
    """Recorded scores through the core's C recognizer (slow; :func:`replay` gives the same)."""
    from tinykws.boardcode.native import Recognizer

    r = Recognizer(labels, recognizer)
    out = []
    for t, s in zip(times_ms, scores):
        d = r.push(s, int(t))
        if d is not None:
            out.append(Detection(int(t) / 1000, labels[d[0]], d[1]))
    return out


# --- Scoring ------------------------------------------------------------------------------------

def score_detections(events: list[Event], detections: list[Detection], hours: float,
                     after_s: float = HIT_WINDOW_AFTER_S) -> dict:
    """Hits, false rejects and false accepts (``docs/evaluation.md`` §3).

    Returns the protocol's figures: ``hit_rate``, ``fa_per_hour``, ``keywords``, ``hits``,
    ``false_accepts``, ``false_rejects``, ``hours``, ``per_keyword``, ``false_accepts_by_label`` and
    ``false_accepts_by_cause`` (:func:`false_accept_causes`).
    """
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
    per_label: dict[str, dict] = {}
    for i, e in kw_events:
        p = per_label.setdefault(e.label, {"keywords": 0, "hits": 0})
        p["keywords"] += 1
        p["hits"] += int(i in hit)
    for p in per_label.values():
        p["hit_rate"] = round(p["hits"] / p["keywords"], 4)
    fa_by: dict[str, int] = {}
    for d in fa:
        fa_by[d.label] = fa_by.get(d.label, 0) + 1
    return {
        "hit_rate": round(len(hit) / n_kw, 4) if n_kw else None,
        "fa_per_hour": round(len(fa) / hours, 2) if hours else None,
        "keywords": n_kw,
        "hits": len(hit),
        "false_rejects": n_kw - len(hit),
        "false_accepts": len(fa),
        "hours": round(hours, 4),
        "per_keyword": dict(sorted(per_label.items())),
        "false_accepts_by_label": dict(sorted(fa_by.items())),
        "false_accepts_by_cause": false_accept_causes(events, fa, after_s),
        "other_words": sum(1 for e in events if e.label == UNKNOWN),
    }


#: What was under a false accept (:func:`false_accept_causes`).
FA_CAUSES = ("other word", "another keyword", "same keyword again", "background")


def false_accept_causes(events: list[Event], false_accepts: list[Detection],
                        after_s: float = HIT_WINDOW_AFTER_S) -> list[dict]:
    """What each false accept happened on, grouped by clip: a diagnostic that chooses nothing.

    A false accept is put on the latest-starting word whose hit window (its start to ``after_s``
    after its end) holds it: an ``other word``, ``another keyword`` (the detection named a
    different one), the ``same keyword again`` (its one hit was already counted), or
    ``background`` when no word's window holds it. A stream repeats its clips, so one clip the
    model mistakes can make most of an hour's false accepts; the list shows that.

    Returns
    -------
    list of dict
        ``{cause, source, detected, false_accepts}``, most false accepts first; ``source`` is the
        clip (dataset-relative path), empty for background.
    """
    starts = np.array([e.start_s for e in events])
    counts: dict[tuple[str, str, str], int] = {}
    for d in false_accepts:
        j = int(np.searchsorted(starts, d.t_s, side="right"))
        under = None
        for k in range(j - 1, max(j - 4, -1), -1):
            if events[k].start_s <= d.t_s <= events[k].end_s + after_s:
                under = k
                break
        if under is None:
            key = ("background", "", d.label)
        else:
            e = events[under]
            cause = ("other word" if e.label == UNKNOWN else "another keyword" if e.label != d.label
                     else "same keyword again")
            key = (cause, e.source, d.label)
        counts[key] = counts.get(key, 0) + 1
    rows = [{"cause": c, "source": s, "detected": l, "false_accepts": n} for (c, s, l), n in counts.items()]
    return sorted(rows, key=lambda r: (-r["false_accepts"], FA_CAUSES.index(r["cause"]), r["source"], r["detected"]))


class FastScorer:
    """Hit and false-accept counts of many detection sets on one stream (the tuning sweep).

    Gives the counts :func:`score_detections` gives, faster, when no two keyword clips' hit
    windows overlap (the protocol's gaps, ≥ 1.5 s, are longer than the 1 s after a clip).
    """

    def __init__(self, events: list[Event], labels: list[str], after_s: float = HIT_WINDOW_AFTER_S):
        kw = [e for e in events if e.label != UNKNOWN]
        self.n = len(kw)
        self.start_ms = np.array([e.start_s * 1000 for e in kw])
        self.end_ms = np.array([(e.end_s + after_s) * 1000 for e in kw])
        self.label = np.array([labels.index(e.label) if e.label in labels else -1 for e in kw], np.int64)
        self.usable = bool(self.n == 0 or np.all(self.start_ms[1:] > self.end_ms[:-1]))

    def counts(self, times_ms: np.ndarray, label_idx: np.ndarray) -> tuple[int, int]:
        """``(hits, false_accepts)`` of detections at ``times_ms`` with labels ``label_idx``."""
        if not len(times_ms):
            return 0, 0
        t = np.asarray(times_ms, np.float64)
        k = np.searchsorted(self.start_ms, t, side="right") - 1
        ok = k >= 0
        kk = np.where(ok, k, 0)
        ok &= (t <= self.end_ms[kk]) & (self.label[kk] == label_idx) if self.n else np.zeros_like(ok)
        hits = len(np.unique(kk[ok]))
        return hits, len(t) - hits


def evaluate_at(sc: StreamScores, recognizer) -> dict:
    """The protocol's figures of one recorded stream at one operating point (stride included)."""
    s = at_stride(sc, recognizer.stride_ms)
    return score_detections(s.events, replay(s.times_ms, s.scores, s.labels, recognizer), s.hours)


def top_scores(sc: StreamScores) -> np.ndarray:
    """Each inference's highest raw score, rounded as the board's ``INF`` line writes it (3 decimals)."""
    return np.round(sc.scores.max(axis=1).astype(np.float64), 3) if len(sc.scores) else np.zeros(0)
