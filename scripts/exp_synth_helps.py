#!/usr/bin/env python
"""Does synthetic speech help a model on real, unseen speakers?

For each seed, two runs of the default recipe on a real dataset: (a) real
clips only, (b) the same plus eSpeak NG clips of the keywords in the training
split only (``--extra-train``). Both are judged on the same speaker-disjoint
real test split, int8 on TFLM. Prints every run and mean ± sd per arm.

Usage: python scripts/exp_synth_helps.py [DATASET] [--seeds 0 1 2] [--variants 150]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]


def main() -> int:
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "speech_commands_mini"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?", type=Path, default=default)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variants", type=int, default=150)
    ap.add_argument("--arms", nargs="+", default=["real", "real+synth"])
    a = ap.parse_args()
    from tinykws.data.synth import synthesize_dataset
    from tinykws.pipeline import TrainConfig, train

    work = Path(tempfile.mkdtemp(prefix="tinykws-synth-exp-"))
    synth = work / "synth"
    st = synthesize_dataset(synth, WORDS, n_variants=a.variants, seed=123, background_seconds=0, noise=True)
    print(f"synthetic: {st['clips']} clips of {len(WORDS)} words from {a.variants} voice variants", flush=True)
    results: dict[str, list[float]] = {arm: [] for arm in a.arms}
    for seed in a.seeds:
        for arm in a.arms:
            extra = [str(synth)] if arm == "real+synth" else []
            cfg = TrainConfig(dataset=str(a.dataset), words=WORDS, seed=seed, extra_train_dirs=extra, name=f"{arm}-{seed}")
            run = train(cfg, work / "runs", progress=False)
            r = json.loads((run / "report.json").read_text())
            results[arm].append(r["accuracy"]["int8"])
            print(f"seed {seed} {arm:<11} int8 {100 * r['accuracy']['int8']:.1f} %  float {100 * r['accuracy']['float']:.1f} %"
                  f"  ({r['n_test']} real test clips)", flush=True)
    for arm, v in results.items():
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        print(f"{arm:<11} int8 on unseen real speakers: {100 * statistics.mean(v):.1f} ± {100 * sd:.1f} % (n={len(v)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
