#!/usr/bin/env python
"""Cost of one streaming MFCC frame on a Cortex-M4F, counted in QEMU instructions.

Builds the portable core's self-test for ``qemu-system-arm -M mps2-an386``
with the Nano's real build flags (``firmware/board_flags/nano33ble.txt``: Cortex-M4,
FPU with the softfp calling convention, -Os), runs it with ``-icount shift=0`` (virtual
time advances one nanosecond per instruction, so SysTick ticks are a fixed
number of instructions, calibrated against a loop of known length), and
prints instructions per MFCC frame against the budget: 5 % of a 20 ms hop at
64 MHz (the Nano 33 BLE), 64,000. Instructions are not cycles (FPU and
memory instructions take one or more cycles on the M4), so treat the figure as
a floor and the margin as the point. A host-side baseline (the same C on this
CPU, and numpy's batched extractor) is printed beside it.

Usage: python scripts/bench_firmware.py [--seconds N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinykws.boardcode.cross import board_flags, instructions_per_frame, toolchain_missing  # noqa: E402
from tinykws.features import compute_mfcc  # noqa: E402
from tinykws.boardcode.native import StreamingMfcc  # noqa: E402
from tinykws.spec import FeatureSpec  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=3)
    a = ap.parse_args()
    missing = toolchain_missing()
    if missing:
        print(f"cannot run: {missing}")
        return 1
    spec = FeatureSpec()
    rng = np.random.default_rng(0)
    pcm = (rng.normal(0, 4000, a.seconds * spec.sample_rate)).astype(np.int16)
    r = instructions_per_frame(pcm, spec)
    hop_cycles = spec.hop_ms * 64_000_000 // 1000
    print(f"QEMU mps2-an386 (Cortex-M4F, the Nano's flags: {' '.join(board_flags('c'))}): {r['frames']} frames, {r['instructions_per_frame']:,.0f} instructions/frame")
    print(f"budget: 5 % of a {spec.hop_ms} ms hop at 64 MHz = {hop_cycles // 20:,} -> "
          f"{100 * r['instructions_per_frame'] / hop_cycles:.2f} % of the hop")
    m = StreamingMfcc(spec)
    t = time.perf_counter()
    for _ in range(5):
        m.reset()
        frames = m.push(pcm)
    host_c = (time.perf_counter() - t) / (5 * len(frames))
    t = time.perf_counter()
    for _ in range(5):
        compute_mfcc(pcm, spec, workers=1)
    host_np = (time.perf_counter() - t) / (5 * len(frames))
    print(f"host baseline, same audio: C core {1e6 * host_c:.1f} us/frame, numpy extractor {1e6 * host_np:.1f} us/frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
