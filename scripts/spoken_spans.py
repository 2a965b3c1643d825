#!/usr/bin/env python
"""How long is a word's spoken span? Median per word, for several cut levels.

Streams (training windows and the protocol of docs/evaluation.md) place a clip's
*spoken span*: the 20 ms frames from the first to the last within N dB of the
clip's loudest frame (``tinykws.data.augment.spoken_span``). Too small an N cuts
a word to its vowel. This prints, for each word of a split, the median span at
each N, so the cut can be checked on any dataset.

Usage: python scripts/spoken_spans.py [DATASET] [--split test] [--db 10 20 30]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    import numpy as np

    from tinykws.data.augment import SPOKEN_SPAN_DB, spoken_span
    from tinykws.data.dataset import discover, load_examples
    from tinykws.errors import UserError
    from tinykws.spec import FeatureSpec

    default = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "speech_commands_mini"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?", type=Path, default=default)
    ap.add_argument("--split", default="test", choices=["train", "validation", "test"])
    ap.add_argument("--db", type=float, nargs="+", default=[10.0, 20.0, SPOKEN_SPAN_DB])
    a = ap.parse_args()
    if not a.dataset.is_dir():
        print(f"error: dataset folder not found: {a.dataset}", file=sys.stderr)
        return 2
    spec = FeatureSpec()
    words = sorted(p.name for p in a.dataset.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    try:
        ds = discover(a.dataset, words, include_unknown=False, spec=spec)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ex = [e for e in ds.examples if e.split == a.split and e.kind == "clip"]
    audio, _ = load_examples(ex, spec.sample_rate, spec.clip_samples)
    spans: dict[float, dict[str, list[float]]] = {db: defaultdict(list) for db in a.db}
    for e, y in zip(ex, audio):
        for db in a.db:
            s, t = spoken_span(y, spec.sample_rate, db)
            spans[db][e.label].append((t - s) / spec.sample_rate)
    print(f"{a.dataset.name}, {a.split} split: median spoken span (s) of each word's clips, cut N dB below the loudest 20 ms frame")
    print(f"{'word':12s} {'clips':>5s} " + " ".join(f"{f'{db:g} dB':>7s}" for db in a.db))
    for w in sorted(spans[a.db[0]]):
        n = len(spans[a.db[0]][w])
        print(f"{w:12s} {n:5d} " + " ".join(f"{np.median(spans[db][w]):7.2f}" for db in a.db))
    return 0


if __name__ == "__main__":
    sys.exit(main())
