"""The operating point, chosen on the quiet validation stream; the streaming section of a run.

:func:`measure_streams` builds the validation and test streams of
``docs/evaluation.md`` in both conditions and runs each through the board's code
once (scores at the shortest stride the board sustains). :func:`choose_operating_point`
replays the recognizer on the **quiet validation** scores for every setting of
:data:`GRID` and picks the highest hit rate within the false-accept target;
:func:`streaming_section` reports every stream at that one point. The test
streams never feed into a choice.

:func:`tune_run` is ``tinykws evaluate --streaming``: it reports a trained run at
its operating point, or with a target re-chooses it on a validation stream and
writes it into the run (``tinykws export`` then carries it into the firmware).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.evaluate.streaming import (CONDITIONS, PROTOCOL, STREAM_MINUTES, STREAM_SEEDS, UNSEEN, FastScorer, StreamScores,
                                        at_stride, build_stream, detect, evaluate_at, smooth, stream_scores,
                                        stream_sources, top_scores)
from tinykws.recognizer import RecognizerConfig

DEFAULT_TARGET_FA_PER_HOUR = 1.0
DEFAULT_BOARD = "nano33ble"


@dataclass(frozen=True)
class Grid:
    """The settings tried (``docs/evaluation.md`` §4)."""

    thresholds: tuple[float, ...] = tuple(round(0.30 + 0.02 * i, 2) for i in range(35))
    average_windows_ms: tuple[int, ...] = (200, 300, 500, 750, 1000)
    min_counts: tuple[int, ...] = (1, 2, 3, 5)
    suppressions_ms: tuple[int, ...] = (500, 1000, 1500)
    stride_multiples: tuple[int, ...] = (1, 2)


GRID = Grid()


def _windows(grid: Grid, stride_ms: int) -> list[int]:
    w = [x for x in grid.average_windows_ms if x >= stride_ms]
    return w or [stride_ms]


def sweep(sc: StreamScores, stride_ms: int, grid: Grid = GRID) -> list[dict]:
    """Hits and false accepts of every recognizer setting of ``grid`` at ``stride_ms``."""
    s = at_stride(sc, stride_ms)
    fs = FastScorer(s.events, s.labels)
    if not fs.usable:
        raise ValueError("keyword hit windows overlap: the stream does not follow the protocol's gaps")
    out = []
    for w in _windows(grid, stride_ms):
        in_window = math.ceil(w / stride_ms)
        for mc in (m for m in grid.min_counts if m <= in_window):
            sm = smooth(s.times_ms, s.scores, s.labels, w, mc)
            for sup in grid.suppressions_ms:
                for th in grid.thresholds:
                    i = detect(sm, th, sup)
                    hits, fa = fs.counts(sm.times_ms[i], sm.best[i])
                    out.append({"threshold": th, "average_window_ms": w, "min_count": mc, "suppression_ms": sup,
                                "stride_ms": int(stride_ms), "hits": hits, "false_accepts": fa,
                                "hit_rate": round(hits / fs.n, 4) if fs.n else 0.0,
                                "fa_per_hour": round(fa / s.hours, 2)})
    return out


def pick(points: list[dict], target_fa_per_hour: float) -> tuple[dict, bool]:
    """The highest hit rate within the target; ties: fewer false accepts, longer stride, higher threshold,
    shorter window, smaller minimum count, longer suppression. Returns ``(point, target_met)``; without
    any point within the target, the fewest false accepts (then the most hits).

    The longer suppression wins a tie because a validation stream's few voices rarely show what it
    guards against: other speakers' slower words firing twice (docs/evaluation.md §4)."""
    if not points:
        raise ValueError("no operating points to choose from")
    order = lambda p: (-p["stride_ms"], -p["threshold"], p["average_window_ms"], p["min_count"], -p["suppression_ms"])  # noqa: E731
    ok = [p for p in points if p["fa_per_hour"] <= target_fa_per_hour]
    if ok:
        best = min(ok, key=lambda p: (-p["hits"], p["false_accepts"], *order(p)))
        return best, best["hits"] > 0  # a setting that hears nothing meets a false-accept target, not the task
    return min(points, key=lambda p: (p["false_accepts"], -p["hits"], *order(p))), False


def choose_operating_point(sc: StreamScores, target_fa_per_hour: float, *, grid: Grid = GRID) -> dict:
    """The operating point on recorded (quiet validation) scores; ``sc`` at the shortest stride to try."""
    points = [p for k in grid.stride_multiples for p in sweep(sc, k * sc.stride_ms, grid)]
    best, met = pick(points, target_fa_per_hour)
    return {k: best[k] for k in ("threshold", "average_window_ms", "min_count", "suppression_ms", "stride_ms")} | {
        "target_fa_per_hour": target_fa_per_hour, "target_met": met, "settings_tried": len(points),
        "hears_nothing": best["hits"] == 0}


#: Why an operating point missed its target, by whether it hears any keyword at all.
NOT_MET_NOTE = {False: " (no setting meets the target: fewest false accepts)",
                True: " (the model hears no keyword at any setting: nothing to choose; see report.md)"}


def recognizer_of(op: dict) -> RecognizerConfig:
    return RecognizerConfig(stride_ms=int(op["stride_ms"]), average_window_ms=int(op["average_window_ms"]),
                            threshold=float(op["threshold"]), suppression_ms=int(op["suppression_ms"]),
                            min_count=int(op["min_count"]))


def det_curve(sc: StreamScores, rec: RecognizerConfig, thresholds=GRID.thresholds) -> list[dict]:
    """Hit rate against false accepts per hour along the threshold, the other settings as in ``rec``."""
    s = at_stride(sc, rec.stride_ms)
    fs = FastScorer(s.events, s.labels)
    sm = smooth(s.times_ms, s.scores, s.labels, rec.average_window_ms, rec.min_count)
    out = []
    for th in thresholds:
        i = detect(sm, th, rec.suppression_ms)
        hits, fa = fs.counts(sm.times_ms[i], sm.best[i])
        out.append({"threshold": th, "hit_rate": round(hits / fs.n, 4) if fs.n else 0.0, "fa_per_hour": round(fa / s.hours, 2)})
    return out


def score_histogram(sc: StreamScores) -> dict:
    """Per-inference top scores as the board prints them, as sparse counts (what drift is checked against)."""
    v, c = np.unique(np.round(top_scores(sc) * 1000).astype(np.int64), return_counts=True)
    return {"source": "quiet validation stream", "stride_ms": int(sc.stride_ms), "n": int(c.sum()),
            "score_milli_counts": [[int(a), int(b)] for a, b in zip(v, c)]}


# --- Streams of a run ----------------------------------------------------------------------------

def base_stride(run, board: str | None) -> int:
    """The shortest stride the board sustains (native engine); without a board, the run's stride."""
    if not board:
        return run.recognizer.stride_ms
    from tinykws.export.latency import shortest_sustainable_stride

    return int(shortest_sustainable_stride(run.tflite_bytes, run.spec, board, engine="native"))


def measure_streams(run, dataset, *, minutes: float = STREAM_MINUTES, stride_ms: int | None = None, noise_dir=None,
                    splits=("validation", "test"), conditions=CONDITIONS, seeds: dict | None = None,
                    score: Callable | None = None, log: Callable[[str], None] | None = None) -> dict[str, dict[str, StreamScores]]:
    """``{split: {condition: StreamScores}}`` (conditions a split cannot have are left out).

    ``score(stream) -> StreamScores`` runs a model over each stream; default: the board's code at ``stride_ms``.
    """
    say = log or (lambda s: None)
    if score is None:
        if stride_ms is None:
            raise ValueError("measure_streams needs stride_ms for the board's code, or a score function")
        score = lambda st: stream_scores(run, st, stride_ms)  # noqa: E731
    out: dict[str, dict[str, StreamScores]] = {}
    for split in splits:
        src = stream_sources(run, dataset, split, noise_dir=noise_dir)
        seed = (seeds or STREAM_SEEDS)[split]
        out[split] = {}
        for cond in conditions:
            if cond == "noisy" and not src.noise:
                say(f"{split} stream, noisy: skipped (no background noise recordings)")
                continue
            st = build_stream(src, minutes=minutes, seed=seed, condition=cond)
            sc = score(st)
            n_kw = sum(e.label != "_unknown_" for e in st.events)
            say(f"{split} stream, {cond}: {st.hours * 60:.1f} min, {n_kw} keywords and {len(st.events) - n_kw} other "
                f"words{' (real speech: the synthetic ones stay for training)' if src.synthetic_left_out else ''}; "
                f"{len(sc.times_ms)} inferences every {sc.stride_ms} ms on the {sc.engine}")
            out[split][cond] = sc
    return out


def streaming_section(measured: dict[str, dict[str, StreamScores]], op: dict, *, chosen_on: str, board: str | None,
                      noise: str, minutes: float) -> dict:
    """``report.json``'s ``streaming``: every stream at the one operating point, the DET curves, the drift reference."""
    rec = recognizer_of(op)
    sec: dict = {"protocol": PROTOCOL,
                 "operating_point": {**{k: op[k] for k in ("threshold", "average_window_ms", "min_count", "suppression_ms",
                                                           "stride_ms", "target_fa_per_hour")},
                                     "chosen_on": chosen_on, "target_met": op.get("target_met"), "board": board},
                 "stream_minutes": minutes, "noise": noise}
    det = {}
    for split, conds in measured.items():
        sec[split] = {}
        for cond, sc in conds.items():
            r = evaluate_at(sc, rec)
            r["seed"] = STREAM_SEEDS.get(split)
            sec[split][cond] = r
            det[f"{split}/{cond}"] = det_curve(sc, rec)
    sec["det"] = det
    quiet_val = measured.get("validation", {}).get("quiet")
    if quiet_val is not None:
        sec["drift"] = score_histogram(at_stride(quiet_val, rec.stride_ms))
    first = next((sc for conds in measured.values() for sc in conds.values()), None)
    sec["engine"] = ("firmware core (host build): streaming MFCC, int8 window, recognizer; model on the "
                     + (first.engine if first else "int8 engine"))
    return sec


def evaluate_run_streams(run, dataset, *, minutes: float = STREAM_MINUTES, target_fa_per_hour: float | None,
                         board: str | None = DEFAULT_BOARD, noise_dir=None, unseen: bool = False,
                         log: Callable[[str], None] | None = None) -> dict:
    """Measure the streams and, with a target, choose the operating point on the quiet validation stream.

    Without a target the run's own recognizer settings are the operating point. ``unseen``: ``dataset``
    is a folder the run never saw, heard as one stream of all its clips (no target then).
    Returns the ``streaming`` section (``operating_point`` holds the settings).
    """
    say = log or (lambda s: None)
    if unseen and target_fa_per_hour is not None:
        raise ValueError("an operating point is chosen on the run's own validation stream, not on an unseen folder")
    if target_fa_per_hour is None:
        stride = run.recognizer.stride_ms
    else:
        stride = base_stride(run, board)
        say(f"stride: {stride} ms is the shortest {board} sustains with the native engine; trying {stride} and "
            f"{', '.join(str(k * stride) for k in GRID.stride_multiples[1:])} ms")
    measured = measure_streams(run, dataset, minutes=minutes, stride_ms=stride, noise_dir=noise_dir, log=log,
                               splits=(UNSEEN,) if unseen else ("validation", "test"))
    if target_fa_per_hour is None:
        # The run's settings; where they are the operating point its streams chose, say how it was chosen.
        old = (run.report.get("streaming") or {}).get("operating_point") or {}
        same = all(old.get(k) == v for k, v in asdict(run.recognizer).items())
        op = {**asdict(run.recognizer), "target_fa_per_hour": old.get("target_fa_per_hour") if same else None,
              "target_met": old.get("target_met") if same else None}
        chosen_on = old.get("chosen_on", "the run's recognizer settings") if same else "the run's recognizer settings"
        board = old.get("board") if same else None
    else:
        quiet_val = measured["validation"]["quiet"]
        op = choose_operating_point(quiet_val, target_fa_per_hour)
        chosen_on = "quiet validation stream"
        say(f"operating point (quiet validation stream, target {target_fa_per_hour:g} FA/h): threshold {op['threshold']:.2f}, "
            f"window {op['average_window_ms']} ms, min count {op['min_count']}, suppression {op['suppression_ms']} ms, "
            f"stride {op['stride_ms']} ms" + ("" if op["target_met"] else NOT_MET_NOTE[bool(op.get("hears_nothing"))]))
    src_noise = str(noise_dir) if noise_dir else "dataset _background_noise_ (validation 80-90 %, test 90-100 % of each recording)"
    return streaming_section(measured, op, chosen_on=chosen_on, board=board, noise=src_noise, minutes=minutes)


def stream_length(hours: float) -> str:
    """A stream's length for people: ``12 s``, ``1.5 min``, ``60 min`` (a 0.2-minute stream is not "0 min")."""
    minutes = 60 * float(hours)
    if minutes < 1:
        return f"{60 * minutes:.0f} s"
    return f"{minutes:.1f} min" if minutes < 10 else f"{minutes:.0f} min"


def summary_lines(sec: dict) -> list[str]:
    """One line per stream for the console."""
    out = []
    for split in ("validation", "test", UNSEEN):
        for cond in CONDITIONS:
            r = (sec.get(split) or {}).get(cond)
            if r:
                out.append(f"{split:>10} {cond:<5}: {100 * (r['hit_rate'] or 0):5.1f} % of {r['keywords']} keywords, "
                           f"{r['fa_per_hour']:g} false accepts per hour ({stream_length(r['hours'])})"
                           + (": hears no keyword" if r["keywords"] and not r["hit_rate"] else ""))
                top = (r.get("false_accepts_by_cause") or [])[:3]
                if top:
                    out.append(" " * 18 + "most false accepts: " + "; ".join(
                        f"{c['source'] or 'background'} ({c['cause']}) as {c['detected']} x{c['false_accepts']}" for c in top))
    return out


def is_own_dataset(run, dataset) -> bool:
    """Whether ``dataset`` is the folder the run was trained on (or the user's folder it was composed around)."""
    here = Path(dataset).resolve()
    own = [(run.report.get("data") or {}).get("dataset"), (run.config or {}).get("dataset"),
           (run.config or {}).get("source_dataset")]
    if any(o and Path(o).resolve() == here for o in own):
        return True
    # A path recorded relative to another working folder: the same files give the same dataset hash.
    from tinykws.data.dataset import discover
    from tinykws.errors import UserError

    want = (run.report.get("data") or {}).get("dataset_hash")
    try:
        return bool(want) and discover(here, spec=run.spec).hash == want
    except UserError:
        return False


def tune_run(run, dataset=None, *, minutes: float = STREAM_MINUTES, target_fa_per_hour: float | None = None,
             board: str | None = DEFAULT_BOARD, noise_dir=None, log: Callable[[str], None] | None = None) -> dict:
    """``tinykws evaluate --streaming``: the streams at the run's operating point, or re-chosen for a target.

    With a target the new operating point goes into the run (recognizer settings and
    the ``streaming`` section of ``report.json``, ``report.md``, ``det.png``). Without one the
    run is not changed. ``dataset`` defaults to the run's own.
    """
    from tinykws.errors import UserError
    from tinykws.evaluate.report import plot_det, render_report_md
    from tinykws.io import atomic_write_text
    from tinykws.run import replace_report_sections

    say = log or (lambda s: None)
    own = (run.report.get("data") or {}).get("dataset")
    if dataset is None:
        dataset = own
        if not dataset or not Path(dataset).is_dir():
            raise UserError(f"the run's dataset ({dataset or 'unknown'}) is not here: give DATASET")
    unseen = not is_own_dataset(run, dataset)
    if unseen and target_fa_per_hour is not None:
        raise UserError(f"{dataset} is not the run's dataset: the operating point is chosen on the run's own validation "
                        "stream (leave out DATASET), and another folder is only heard at it")
    if unseen:
        say(f"{dataset} is not the run's own dataset: every clip in it is unseen, heard as one stream at the run's "
            "operating point")
    sec = evaluate_run_streams(run, dataset, minutes=minutes, target_fa_per_hour=target_fa_per_hour, board=board,
                               noise_dir=noise_dir, unseen=unseen, log=log)
    sec["dataset"] = str(dataset)
    for line in summary_lines(sec):
        say(line)
    if target_fa_per_hour is not None:
        op = sec["operating_point"]
        sections = {"recognizer": asdict(recognizer_of(op)), "streaming": sec}
        try:  # the speed estimates follow the new stride
            from tinykws.export.latency import latency_report

            sections["latency"] = latency_report(run.tflite_bytes, run.spec, int(op["stride_ms"]))
        except UserError:
            pass
        new = replace_report_sections(run.path, **sections)
        plot_det(sec, run.path / "det.png")
        atomic_write_text(run.path / "report.md", render_report_md(new))
        say("operating point written into the run (tinykws export or flash to use it)")
    return sec
