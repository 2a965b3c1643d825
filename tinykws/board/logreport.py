"""``tinykws report``: a monitor log turned into a summary, plots, and a drift check.

Drift: the board's per-inference top scores (``INF score``, 3 decimals) are
compared, like with like, with the run's per-inference top scores on its quiet
**validation stream** (``report.json`` ``streaming.drift``: the same board code,
the same stride, the same rounding, continuous audio as the board hears it; see
``docs/evaluation.md``) with a two-sample Kolmogorov-Smirnov test
(:func:`drift_check`). A statistic above :data:`DRIFT_KS` (with p < 0.01) flags
drift: what the board hears no longer looks like what the run was judged on
(another microphone, room, gain, or speakers), and the figures measured on the
laptop may not hold. Runs made before streaming evaluation have only their
test clips' top scores (``score_distribution.json``), which the check falls back
to and says so.

Speed: the board's measured ``inf_us`` is compared with the estimate
(:mod:`tinykws.export.latency`) for the board and engine its ``BOOT`` line names,
and ``STAT skipped=`` (inferences the board had to skip because the previous one
was still running) becomes a warning that says why. :func:`latency_check` does
both; ``tinykws monitor`` shows the same lines live.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dataclasses import dataclass

from tinykws.board.protocol import Boot, BootFilter, Detection, Inference, Stats, parse_board_line
from tinykws.errors import UserError

DRIFT_KS = 0.2


@dataclass(frozen=True)
class BadLine:
    """A board line of the log that is not protocol, or names a label the board's BOOT did not: counted, not used."""

    text: str


def read_log(path: Path) -> list[tuple[float, object]]:
    """``(host time, record)`` per board line of a monitor log, read as the monitor read them live.

    Lines the monitor could not parse (or refused against the BOOT labels) come back as :class:`BadLine`.
    """
    from datetime import datetime

    p = Path(path)
    if not p.is_file():
        raise UserError(f"log not found: {p}")
    out = []
    boot_filter = BootFilter()
    for raw in p.read_text(encoding="utf-8", errors="replace").splitlines():
        if not raw or raw.startswith("#") or "\t" not in raw:
            continue
        stamp, line = raw.split("\t", 1)
        try:
            t = datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            continue
        if not line.strip():
            continue  # the reader does not count blank lines either
        rec = parse_board_line(line)
        out.append((t, rec if rec is not None and boot_filter.accepts(rec) else BadLine(line[:80])))
    if not any(not isinstance(r, BadLine) for _, r in out):
        raise UserError(f"{p} holds no board lines (is it a `tinykws monitor --log` file?)")
    return out


def summarize(records, run=None) -> dict:
    infs = [r for _, r in records if isinstance(r, Inference)]
    dets = [r for _, r in records if isinstance(r, Detection)]
    stats = [r for _, r in records if isinstance(r, Stats)]
    boots = [r for _, r in records if isinstance(r, Boot)]

    def pct(xs):
        if not xs:
            return None
        a = np.asarray(xs)
        return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "max": float(a.max())}

    out = {
        "inferences": len(infs),
        "latency_us": {k: pct([getattr(r, f"{k}_us") for r in infs]) for k in ("feat", "inf", "total")},
        "detections": len(dets),
        "detections_by_label": {l: sum(1 for d in dets if d.label == l) for l in sorted({d.label for d in dets})},
        "dropped": stats[-1].dropped if stats else None,
        "overflows": stats[-1].overflows if stats else None,
        "protocol_errors": sum(1 for _, r in records if isinstance(r, BadLine)),
        "boards": sorted({b.board for b in boots}),
        "models": sorted({b.model for b in boots}),
        "starts": sum(1 for b in boots if b.tag == "BOOT"),
        "watchdog_resets": sum(1 for b in boots if b.tag == "BOOT" and b.reset == "wdt"),
    }
    if run is not None and infs:
        ours = run_inferences(records, run)
        ref = reference_scores(run)
        if ref is not None:
            out["drift"] = drift_check([r.score for r in ours], *ref)
            if len(ours) < len(infs):
                out["drift"]["left_out"] = len(infs) - len(ours)
    if boots:
        # Only what the board said since its last (re)start is compared with that start's BOOT.
        since = max(i for i, (_, r) in enumerate(records) if isinstance(r, Boot))
        rest = [r for _, r in records[since:]]
        inf = [r for r in rest if isinstance(r, Inference)]
        out["latency_check"] = latency_check(boots[-1], [r.inf_us for r in inf], [r.total_us for r in inf],
                                             [r for r in rest if isinstance(r, Stats)], run=run)
    return out


def run_inferences(records, run) -> list[Inference]:
    """The log's INF records of the run's own model: those after a BOOT naming it (all of them if the log has no BOOT).

    Scores of another model say nothing about drift from this run's, so a log in which the board never ran
    the run's model is refused (:class:`UserError`) rather than compared.
    """
    models = sorted({r.model for _, r in records if isinstance(r, Boot)})
    if models and not any(_sha_matches(run.model_sha256, m) for m in models):
        raise UserError(f"the log's board ran model {', '.join(m[:12] for m in models)}, run {Path(run.path).name} is "
                        f"{run.model_sha256[:12]}: no drift check across models; give the run that made the log's "
                        "model, or leave out --run")
    if not models:
        return [r for _, r in records if isinstance(r, Inference)]
    out, current = [], None
    for _, r in records:
        if isinstance(r, Boot):
            current = r.model
        elif isinstance(r, Inference) and current is not None and _sha_matches(run.model_sha256, current):
            out.append(r)
    return out


def reference_scores(run) -> tuple[np.ndarray, np.ndarray, str] | None:
    """``(scores, counts, what)`` the board's top scores are compared with; ``None`` if the run has none.

    The quiet validation stream's per-inference top scores (``streaming.drift`` in ``report.json``),
    else, for runs made before streaming evaluation, the test clips' (``score_distribution.json``).
    """
    d = ((run.report or {}).get("streaming") or {}).get("drift")
    if isinstance(d, dict) and d.get("score_milli_counts"):
        a = np.asarray(d["score_milli_counts"], np.int64).reshape(-1, 2)
        return a[:, 0] / 1000.0, a[:, 1], f"{d.get('source', 'validation stream')} at {d.get('stride_ms')} ms"
    p = Path(run.path) / "score_distribution.json"
    if p.is_file():
        try:
            ref = json.loads(p.read_text())["all"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UserError(f"{p} is damaged: train the run again") from None
        v, c = np.unique(np.round(np.asarray(ref, np.float64), 3), return_counts=True)
        return v, c, "test clips (the run predates streaming evaluation)"
    return None


def drift_check(board_scores, ref_scores, ref_counts, what: str = "reference") -> dict:
    """Two-sample Kolmogorov-Smirnov test of the board's top scores against a weighted reference sample.

    Both are compared as the board prints them (3 decimals). The p-value is the asymptotic
    two-sample one (scipy's ``kstwo`` at the effective size ``n m / (n + m)``).
    """
    from scipy.stats import kstwo

    b = np.round(np.asarray(board_scores, np.float64), 3)
    rv = np.asarray(ref_scores, np.float64)
    rc = np.asarray(ref_counts, np.float64)
    n, m = len(b), float(rc.sum())
    grid = np.union1d(np.unique(b), rv)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / n
    order = np.argsort(rv)
    cum = np.cumsum(rc[order]) / m
    k = np.searchsorted(rv[order], grid, side="right")
    cdf_r = np.where(k > 0, cum[np.maximum(k - 1, 0)], 0.0)
    d = float(np.max(np.abs(cdf_b - cdf_r))) if len(grid) else 0.0
    en = n * m / (n + m)
    p = float(kstwo.sf(d, max(1, int(round(en))))) if en >= 1 else 1.0
    return {"ks_statistic": round(d, 4), "p_value": p, "threshold": DRIFT_KS, "drift": bool(d > DRIFT_KS and p < 0.01),
            "board_scores": int(n), "reference_scores": int(m), "reference": what}


def _sha_matches(full: str, said: str) -> bool:
    return bool(full and said) and (full == said or (len(said) >= 12 and full.startswith(said)))


def boot_model(boot: Boot, run=None, runs_dir=None):
    """The model a board runs, found by the sha256 its BOOT line gives: ``(tflite, spec, stride_ms, where)`` or ``None``.

    Looks at ``run`` (if given), the runs in ``runs_dir`` (default ``runs/``), then the shipped
    ``firmware/model``. ``stride_ms`` is the recognizer's stride the model folder was exported with.
    """
    from tinykws.run import DEFAULT_RUNS_DIR, list_runs, load_run

    for r in ([run] if run is not None else []):
        if _sha_matches(r.model_sha256, boot.model):
            return r.tflite_bytes, r.spec, r.recognizer.stride_ms, str(r.path)
    for path in list_runs(runs_dir or DEFAULT_RUNS_DIR):
        try:
            sha = json.loads((path / "report.json").read_text()).get("model", {}).get("sha256", "")
        except (OSError, json.JSONDecodeError):
            continue
        if _sha_matches(sha, boot.model):
            try:
                r = load_run(path)
            except UserError:
                continue
            return r.tflite_bytes, r.spec, r.recognizer.stride_ms, str(path)
    return _shipped_model(boot)


def _shipped_model(boot: Boot):
    import re

    from tinykws.export.carray import parse_c_array
    from tinykws.spec import FeatureSpec

    try:
        from tinykws.paths import default_model_dir

        d = default_model_dir()
        info = json.loads((d / "model.json").read_text())
        if not _sha_matches(info.get("model_sha256", ""), boot.model):
            return None
        tflite = parse_c_array((d / "kws_model.cc").read_text())
        spec = FeatureSpec()
        if spec.sha256 != info.get("spec_sha256"):
            m = re.search(r"#define KWS_HOP_MS (\d+)", (d / "kws_feature_spec.h").read_text())
            spec = FeatureSpec(hop_ms=int(m.group(1))) if m else spec
        return tflite, spec, int(info["recognizer"]["stride_ms"]), str(d)
    except (OSError, ValueError, KeyError, UserError, json.JSONDecodeError):
        return None


def skipped_recently(stats: list[Stats]) -> tuple[int, float, int] | None:
    """``(skipped, seconds, inferences)`` over the last STAT interval (since start-up if only one STAT); ``None`` if unknown."""
    known = [s for s in stats if s.skipped is not None]
    if not known:
        return None
    last = known[-1]
    prev = known[-2] if len(known) > 1 and known[-2].t_ms < last.t_ms and known[-2].skipped <= last.skipped else None
    if prev is None:
        return last.skipped, last.t_ms / 1000, last.inferences
    return last.skipped - prev.skipped, (last.t_ms - prev.t_ms) / 1000, last.inferences - prev.inferences


def _p50(xs) -> float | None:
    return float(np.percentile(np.asarray(xs[-10000:]), 50)) if len(xs) else None


def boot_estimate(boot: Boot, run=None, runs_dir=None):
    """``(estimate, where)`` for the board, engine and model a BOOT line names.

    ``estimate`` is a :class:`tinykws.export.latency.LatencyEstimate` or, when there is none, a
    one-line string saying why; ``where`` is the folder the model was found in (or ``None``). The
    firmware before the ``engine`` field ran only TFLM; estimates exist only for the engines the
    firmware builds now (:data:`tinykws.export.boards.ENGINES`), so an older TFLM build's log is
    read without one.
    """
    from tinykws.export.boards import BOARDS, ENGINES
    from tinykws.export.latency import estimate_latency

    engine = boot.engine or "tflm"
    if boot.board not in BOARDS:
        return f"no estimate for board {boot.board!r} (estimates exist for {', '.join(BOARDS)})", None
    if engine not in ENGINES:
        return (f"no estimate for the {engine} engine: the firmware now runs only the native engine "
                "(flash the board again to compare)"), None
    model = boot_model(boot, run, runs_dir)
    if model is None:
        return (f"no estimate: model {boot.model[:12]} is not in the runs folder nor the shipped firmware/model "
                "(give the run)"), None
    tflite, spec, stride_ms, where = model
    try:
        return estimate_latency(tflite, spec, stride_ms, boot.board, engine), where
    except UserError as e:
        return f"no estimate: {e}", where


def latency_check(boot: Boot, inf_us: list[int], total_us: list[int], stats: list[Stats], *, run=None, runs_dir=None,
                  estimate=None, model: str | None = None) -> dict:
    """The board's measured latency against the estimate for its board and engine, and skipped inferences.

    ``estimate`` (with ``model``, where it was found), as :func:`boot_estimate` gives them, may be
    passed in to avoid looking the model up again. Returns a dict with the figures and ``lines``:
    one line each for people (measured vs estimate, a skip warning).
    """
    if estimate is None:
        estimate, model = boot_estimate(boot, run, runs_dir)
    engine = boot.engine or "tflm"
    out: dict = {"board": boot.board, "engine": engine, "model_from": model, "lines": []}
    lines: list[str] = out["lines"]
    inf_ms, total_ms = _p50(inf_us), _p50(total_us)
    inf_ms = inf_ms / 1000 if inf_ms is not None else None
    total_ms = total_ms / 1000 if total_ms is not None else None
    out["measured_inf_ms"], out["measured_total_ms"] = inf_ms, total_ms
    stride_ms = None
    if isinstance(estimate, str):
        lines.append(estimate)
    else:
        stride_ms = estimate.stride_ms
        out["estimate"] = estimate.to_dict()
        if inf_ms is not None:
            out["ratio"] = round(inf_ms / estimate.inference_ms, 3) if estimate.inference_ms else None
            lines.append(f"inference p50 {inf_ms:.1f} ms measured vs {estimate.inference_ms:.1f} ms estimated for "
                         f"{boot.board} with {engine} ({inf_ms / estimate.inference_ms:.2f}x); features + inference "
                         f"{total_ms:.1f} ms of the {stride_ms} ms stride ({100 * total_ms / stride_ms:.0f} %)")
        else:
            lines.append(f"estimate: {estimate.line()}")
    skip = skipped_recently(stats)
    if skip is not None:
        n, seconds, done = skip
        out["skipped"] = {"count": n, "seconds": round(seconds, 1)}
        if stride_ms is None and seconds > 0 and n + done > 0:
            stride_ms = round(1000 * seconds / (n + done))  # the board tries one inference per stride
        if n > 0:
            if inf_ms is not None and stride_ms and inf_ms > stride_ms:
                why = f"inference {inf_ms:.0f} ms > stride {stride_ms} ms"
            elif total_ms is not None and stride_ms and total_ms > stride_ms:
                why = f"features + inference {total_ms:.0f} ms > stride {stride_ms} ms"
            elif inf_ms is not None and stride_ms:
                why = f"inference {inf_ms:.0f} ms fits the {stride_ms} ms stride: the board stalls elsewhere (serial, microphone)"
            else:
                why = "the engine was still busy with the previous one"
            lines.append(f"board skipped {n} inferences in the last {seconds:.0f} s: {why}")
    out["stride_ms"] = stride_ms
    return out


def plot_report(records, out_dir: Path, run=None) -> list[Path]:
    from tinykws.io import pyplot, save_png

    plt = pyplot()
    infs = [(t, r) for t, r in records if isinstance(r, Inference)]
    dets = [(t, r) for t, r in records if isinstance(r, Detection)]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    t0 = records[0][0]
    if infs:
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.5))
        for k in ("feat", "inf", "total"):
            a.hist([getattr(r, f"{k}_us") / 1000 for _, r in infs], bins=40, alpha=0.6, label=k)
        a.set_xlabel("ms")
        a.set_ylabel("inferences")
        a.set_title("latency per inference")
        a.legend()
        b.plot([t - t0 for t, _ in infs], [r.total_us / 1000 for _, r in infs], ".", ms=2)
        b.set_xlabel("s")
        b.set_ylabel("total ms")
        b.set_title("latency over time")
        p = out_dir / "latency.png"
        save_png(fig, p)
        plt.close(fig)
        paths.append(p)
        fig, a = plt.subplots(figsize=(6, 3.5))
        a.hist([r.score for _, r in infs], bins=30, range=(0, 1), density=True, alpha=0.6, label="board")
        ref = reference_scores(run) if run is not None else None
        if ref is not None:
            a.hist(ref[0], weights=ref[1], bins=30, range=(0, 1), density=True, alpha=0.6, label=ref[2])
        a.set_xlabel("top score")
        a.set_ylabel("density (share of inferences per unit score)")
        a.legend()
        a.set_title("score distribution")
        p = out_dir / "scores.png"
        save_png(fig, p)
        plt.close(fig)
        paths.append(p)
    fig, a = plt.subplots(figsize=(10, 2.5))
    # Every keyword the board can detect gets a row, detected or not; the axis spans the whole log.
    boots = [r for _, r in records if isinstance(r, Boot)]
    known = [l for l in (boots[-1].labels if boots else (run.labels if run is not None else ())) if not l.startswith("_")]
    labels = [*known, *sorted({r.label for _, r in dets} - set(known))]
    for i, l in enumerate(labels):
        a.plot([t - t0 for t, r in dets if r.label == l], [i] * sum(1 for _, r in dets if r.label == l), "o", label=l)
    a.set_yticks(range(len(labels)), labels)
    a.set_ylim(-0.5, max(len(labels), 1) - 0.5)
    a.set_xlim(0, max(records[-1][0] - t0, 1.0))
    a.set_xlabel("time since the log's first line (s)")
    a.set_ylabel("keyword")
    if not dets:
        a.text(0.5, 0.5, "no detections in this log", ha="center", va="center", transform=a.transAxes)
    a.set_title(f"detections over time ({len(dets)})")
    p = out_dir / "detections.png"
    save_png(fig, p)
    plt.close(fig)
    paths.append(p)
    return paths
