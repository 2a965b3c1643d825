"""Tuning: choosing the recognizer's operating point on a recorded stream.

Takes the :class:`tinykws.evaluate.streaming.StreamScores` of one pass of the
board's code over a stream, re-runs the C recognizer on them with other
settings (the model is not re-run), and picks the operating point for a target
rate of false accepts per hour. :func:`tune_run` writes the choice into the run
(``report.json`` via :func:`tinykws.run.update_report`, the sweep as JSON and
PNG), so the next ``tinykws export`` carries it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Callable

import numpy as np

from tinykws.evaluate.streaming import StreamScores, evaluate_streaming, recognize, score_detections
from tinykws.io import atomic_write_text
from tinykws.run import update_report


def sweep_thresholds(rec: StreamScores, recognizer, *, thresholds=None) -> list[dict]:
    """False rejects vs false accepts per hour over thresholds (the recognizer re-run on recorded scores)."""
    thresholds = thresholds if thresholds is not None else np.round(np.arange(0.30, 0.99, 0.05), 2)
    out = []
    for th in thresholds:
        dets = recognize(rec.times_ms, rec.scores, rec.labels, replace(recognizer, threshold=float(th)))
        s = score_detections(rec.events, dets, rec.hours)
        out.append({"threshold": float(th), "false_reject_rate": s["false_reject_rate"],
                    "false_accepts_per_hour": s["false_accepts_per_hour"], "hits": s["hits"]})
    return out


def pick_operating_point(sweep: list[dict], target_fa_per_hour: float) -> dict | None:
    """The lowest threshold (fewest false rejects) whose false accepts per hour are within the target."""
    ok = [p for p in sweep if p["false_accepts_per_hour"] is not None and p["false_accepts_per_hour"] <= target_fa_per_hour]
    return min(ok, key=lambda p: (p["false_reject_rate"], p["threshold"])) if ok else None


def tune_run(run, dataset, *, hours: float = 1.0, seed: int = 0, target_fa_per_hour: float | None = None,
             log: Callable[[str], None] | None = None) -> dict:
    """Streaming evaluation of ``run``, the threshold sweep, and with a target the chosen threshold.

    With ``target_fa_per_hour`` the sweep (JSON and PNG) goes into the run folder
    and the chosen threshold into its ``report.json`` recognizer settings.
    """
    from tinykws.evaluate.report import plot_sweep

    say = log or (lambda s: None)
    result, rec = evaluate_streaming(run, dataset, hours=hours, seed=seed, log=log)
    sweep = sweep_thresholds(rec, run.recognizer)
    result["sweep"] = sweep
    if target_fa_per_hour is not None:
        chosen = pick_operating_point(sweep, target_fa_per_hour)
        result["target_fa_per_hour"] = target_fa_per_hour
        result["chosen"] = chosen
        atomic_write_text(run.path / "threshold_sweep.json", json.dumps(result, indent=2) + "\n")
        plot_sweep(sweep, run.path / "threshold_sweep.png", chosen)
        if chosen is None:
            say(f"no threshold reaches {target_fa_per_hour} false accepts per hour; the run is unchanged")
        else:
            update_report(run.path, recognizer={"threshold": chosen["threshold"]},
                          streaming={k: result[k] for k in ("hours", "hit_rate", "false_accepts_per_hour", "chosen", "target_fa_per_hour")})
            say(f"threshold {chosen['threshold']:.2f}: {100 * (1 - chosen['false_reject_rate']):.1f} % hits, "
                f"{chosen['false_accepts_per_hour']} false accepts/h; written into the run (export or flash to use it)")
    if log:
        log(f"{result['hits']}/{result['keywords_spoken']} keywords detected ({100 * (result['hit_rate'] or 0):.1f} %), "
            f"{result['false_rejects']} false rejects, {result['false_accepts']} false accepts "
            f"= {result['false_accepts_per_hour']} per hour at threshold {result['threshold']:.2f}")
        log(f"hit window: {result['hit_window']}")
    return result
