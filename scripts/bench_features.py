#!/usr/bin/env python
"""MFCC throughput: a per-clip ``librosa.feature.mfcc`` loop against tinykws's batched extractor.

Both run in this process on the same clips with identical librosa parameters
(everything taken from the FeatureSpec). tinykws starts from an empty feature
cache, so its figure includes writing the cache. Both paths are warmed up on one
clip first (librosa's first call costs about a second of imports and JIT), and the
outputs are checked equal before
any figure is printed: max abs difference <= 5e-3 and 99.9 % of values within
1e-3 (both are float32 FFTs; they differ only by rounding, which the log
magnifies in near-silent frames).

Usage: python scripts/bench_features.py [DATASET] [--clips N] [--repeat R]
DATASET defaults to the shared real speech, else synthetic noise clips are used.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinykws.features import FeatureCache, compute_mfcc, librosa_mfcc  # noqa: E402
from tinykws.spec import FeatureSpec  # noqa: E402


def load_clips(dataset: Path | None, n: int, spec: FeatureSpec) -> tuple[np.ndarray, list[str], str]:
    from tinykws.data.audio import fit_length, load_audio
    from tinykws.io import sha1_file

    if dataset and dataset.is_dir():
        files = sorted(p for p in dataset.glob("*/*.wav") if p.parent.name != "_background_noise_")[:n]
        Y = np.stack([fit_length(load_audio(p, spec.sample_rate).y, spec.clip_samples)[0] for p in files])
        return Y, [sha1_file(p) for p in files], f"{len(files)} real clips from {dataset}"
    rng = np.random.default_rng(0)
    Y = (rng.normal(0, 0.1, (n, spec.clip_samples)) * np.hanning(spec.clip_samples)).astype(np.float32)
    return Y, [f"synthetic{i:06d}" for i in range(n)], f"{n} synthetic noise clips"


def main() -> int:
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "speech_commands_mini"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?", type=Path, default=default)
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions; the best is reported")
    a = ap.parse_args()
    spec = FeatureSpec()
    Y, keys, what = load_clips(a.dataset, a.clips, spec)
    print(f"clips: {what}; spec {spec.sha256[:12]} ({spec.n_frames}x{spec.n_mfcc}, n_fft {spec.n_fft}, hop {spec.hop_length})")

    librosa_mfcc(Y[0], spec)  # warm-up: imports, filter construction
    compute_mfcc(Y[:1], spec)

    t_ref = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        ref = np.stack([librosa_mfcc(y, spec) for y in Y])
        t_ref.append(time.perf_counter() - t)
    t_ours = []
    for _ in range(a.repeat):
        with tempfile.TemporaryDirectory() as d:  # cold cache every time
            t = time.perf_counter()
            ours, hits = FeatureCache(spec, Path(d)).features(Y, keys)
            t_ours.append(time.perf_counter() - t)
            assert hits == 0
    err = float(np.max(np.abs(ours - ref)))
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    share = float(np.mean(np.abs(ours - ref) <= 1e-3))
    assert err <= 5e-3 and share >= 0.999, f"outputs differ: max abs error {err}, {100 * share:.3f} % within 1e-3"
    n = len(Y)
    r, o = min(t_ref), min(t_ours)
    print(f"max abs difference: {err:.2e}; {100 * share:.4f} % of values within 1e-3")
    print(f"{'per-clip librosa.feature.mfcc loop':<40} {n / r:10.0f} clips/s  ({1000 * r / n:.3f} ms/clip)")
    print(f"{'tinykws batched extractor, cold cache':<40} {n / o:10.0f} clips/s  ({1000 * o / n:.3f} ms/clip)")
    print(f"ratio: {r / o:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
