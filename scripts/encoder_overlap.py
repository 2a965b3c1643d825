#!/usr/bin/env python
"""Does the pretrained encoder's own training audio flatter a new-word figure? Hits split by whether a take was in it.

The shipped DS-CNN-S encoder (tinykws/model/encoders) regressed the teacher's embedding on 4,854
speech_commands_dev clips, labels unused (scripts/train_encoder.py: ear_transfer.judged_sets' pool).
Words outside the ten keywords, such as bed, are in that pool for about half of their speakers. A run
of ``scripts/new_word.py`` is heard on its ``unseen`` folder as one stream (the native engine at the
run's stride, as ``tinykws evaluate RUN UNSEEN --streaming``); this prints the hit rate of the takes
that were in the encoder's pool and of those that were not, at the run's operating point and at the
stream's best point within each false-accept rate (false accepts are the whole stream's).

Usage: python scripts/encoder_overlap.py RUN UNSEEN_DIR [--mini DIR] [--dev DIR] [--minutes 60]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def hits_by_event(events, detections, after_s) -> set[int]:
    """Indices of the keyword events hit (the matching of tinykws.evaluate.streaming.score_detections)."""
    from tinykws.data.dataset import UNKNOWN

    kw = [(i, e) for i, e in enumerate(events) if e.label != UNKNOWN]
    starts = np.array([e.start_s for _, e in kw])
    hit: set[int] = set()
    for d in sorted(detections, key=lambda d: d.t_s):
        j = int(np.searchsorted(starts, d.t_s, side="right"))
        for k in range(j - 1, max(j - 4, -1), -1):
            i, e = kw[k]
            if e.start_s <= d.t_s <= e.end_s + after_s and e.label == d.label and i not in hit:
                hit.add(i)
                break
    return hit


def main() -> int:
    from ear_transfer import add_dataset_args, datasets_found, judged_sets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("unseen", type=Path)
    ap.add_argument("--minutes", type=float, default=60.0)
    add_dataset_args(ap)
    a = ap.parse_args()
    if not datasets_found(a):
        return 2
    from train_encoder import WORDS

    from tinykws.data.dataset import UNKNOWN
    from tinykws.evaluate import tuning as T
    from tinykws.evaluate.streaming import HIT_WINDOW_AFTER_S, UNSEEN, at_stride, replay
    from tinykws.run import load_run

    _, _, _, pool = judged_sets(a.mini, a.dev, WORDS.split(","), a.seed)
    in_pool = {(p.parent.name, p.stem) for p in pool}
    run = load_run(a.run)
    rec = run.recognizer
    sc = T.measure_streams(run, a.unseen, minutes=a.minutes, stride_ms=rec.stride_ms, splits=(UNSEEN,),
                           conditions=("quiet",), log=print)[UNSEEN]["quiet"]
    s = at_stride(sc, rec.stride_ms)
    kw = [i for i, e in enumerate(s.events) if e.label != UNKNOWN]
    seen = {i for i in kw if (s.events[i].label, Path(s.events[i].source).stem) in in_pool}

    def line(name: str, r) -> None:
        dets = replay(s.times_ms, s.scores, s.labels, r)
        hit = hits_by_event(s.events, dets, HIT_WINDOW_AFTER_S)
        fa = len(dets) - len(hit)
        out = [i for i in kw if i not in seen]
        print(f"{name}: all {len(hit) / len(kw):.3f} of {len(kw)} at {fa / s.hours:.1f} FA/h | in the encoder's audio "
              f"{len(hit & seen) / max(len(seen), 1):.3f} of {len(seen)} | never in it "
              f"{len(hit & set(out)) / max(len(out), 1):.3f} of {len(out)}")

    line(f"run's operating point (threshold {rec.threshold:.2f})", rec)
    pts = T.sweep(sc, rec.stride_ms)
    for tgt in (0.5, 1.0, 2.0):
        ok = [p for p in pts if p["fa_per_hour"] <= tgt]
        if ok:
            best = max(ok, key=lambda p: (p["hits"], -p["false_accepts"]))
            line(f"best point <= {tgt:g} FA/h (threshold {best['threshold']:.2f})", T.recognizer_of(best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
