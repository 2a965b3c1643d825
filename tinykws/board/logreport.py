"""``tinykws report``: a monitor log turned into a summary, plots, and a drift check.

Drift: the board's top scores (``INF score``) are compared with the run's
test-set top scores (``score_distribution.json``) with a two-sample
Kolmogorov-Smirnov test. A statistic above :data:`DRIFT_KS` (with p < 0.01)
flags drift: what the board hears no longer looks like what the model was
tested on (another microphone, room, gain, or speakers), and accuracy measured
on the laptop may not hold.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinykws.board.protocol import Boot, Detection, Inference, Stats, parse_line
from tinykws.errors import UserError

DRIFT_KS = 0.2


def read_log(path: Path) -> list[tuple[float, object]]:
    from datetime import datetime

    p = Path(path)
    if not p.is_file():
        raise UserError(f"log not found: {p}")
    out = []
    for raw in p.read_text(encoding="utf-8", errors="replace").splitlines():
        if not raw or raw.startswith("#") or "\t" not in raw:
            continue
        stamp, line = raw.split("\t", 1)
        rec = parse_line(line)
        if rec is None:
            continue
        try:
            t = datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            continue
        out.append((t, rec))
    if not out:
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
        "boards": sorted({b.board for b in boots}),
        "models": sorted({b.model for b in boots}),
    }
    if run is not None and infs:
        dist_path = Path(run.path) / "score_distribution.json"
        if dist_path.is_file():
            from scipy.stats import ks_2samp

            ref = json.loads(dist_path.read_text())["all"]
            board = [r.score for r in infs]
            ks = ks_2samp(board, ref)
            out["drift"] = {"ks_statistic": round(float(ks.statistic), 4), "p_value": float(ks.pvalue),
                            "threshold": DRIFT_KS, "drift": bool(ks.statistic > DRIFT_KS and ks.pvalue < 0.01),
                            "board_scores": len(board), "test_scores": len(ref)}
        if out["models"] and run.model_sha256 not in out["models"]:
            out["model_mismatch"] = f"the log's board ran {out['models'][0][:12]}, the run is {run.model_sha256[:12]}"
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
        if run is not None and (Path(run.path) / "score_distribution.json").is_file():
            ref = json.loads((Path(run.path) / "score_distribution.json").read_text())["all"]
            a.hist(ref, bins=30, range=(0, 1), density=True, alpha=0.6, label="run test set")
        a.set_xlabel("top score")
        a.legend()
        a.set_title("score distribution")
        p = out_dir / "scores.png"
        save_png(fig, p)
        plt.close(fig)
        paths.append(p)
    fig, a = plt.subplots(figsize=(10, 2.5))
    labels = sorted({r.label for _, r in dets})
    for i, l in enumerate(labels):
        a.plot([t - t0 for t, r in dets if r.label == l], [i] * sum(1 for _, r in dets if r.label == l), "o", label=l)
    a.set_yticks(range(len(labels)), labels)
    a.set_xlabel("s")
    a.set_title("detections over time")
    p = out_dir / "detections.png"
    save_png(fig, p)
    plt.close(fig)
    paths.append(p)
    return paths
