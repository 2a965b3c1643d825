#!/usr/bin/env python
"""Host parser throughput and the monitor's CPU cost per line.

Baseline in the same run: a naive parser (one regex per line over already-split
text). tinykws's LineReader takes raw bytes in arbitrary chunks, resynchronises
and builds typed records. The board's fastest realistic rate is ~50
inferences/s (INF lines) plus detections and stats; the figure that matters is
how far above that the parser runs and how much CPU a line costs.

Usage: python scripts/bench_protocol.py [--lines N]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinykws.board.protocol import LineReader  # noqa: E402

INF = re.compile(rb"^INF t_ms=(\d+) feat_us=(\d+) inf_us=(\d+) total_us=(\d+) top=(\S+) score=([\d.]+)$")


def make_stream(n: int) -> bytes:
    lines = []
    for i in range(n):
        if i % 50 == 49:
            lines.append(f"STAT t_ms={i * 20} inferences={i} rate_hz=50.0 detections={i // 100} dropped=0 overflows=0 mode=infer")
        elif i % 100 == 7:
            lines.append(f"DET t_ms={i * 20} label=yes score=0.871")
        else:
            lines.append(f"INF t_ms={i * 20} feat_us={1800 + i % 50} inf_us={41000 + i % 300} total_us={43000 + i % 400} top=yes score=0.{i % 1000:03d}")
    return ("\n".join(lines) + "\n").encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    a = ap.parse_args()
    data = make_stream(a.lines)
    t = time.perf_counter()
    c = time.process_time()
    n_naive = sum(1 for line in data.split(b"\n") if INF.match(line))
    naive_s, naive_cpu = time.perf_counter() - t, time.process_time() - c
    r = LineReader()
    t = time.perf_counter()
    c = time.process_time()
    recs = 0
    for i in range(0, len(data), 4096):  # as a serial port delivers it
        recs += len(r.feed(data[i : i + 4096]))
    ours_s, ours_cpu = time.perf_counter() - t, time.process_time() - c
    print(f"{a.lines:,} lines ({len(data) / 1e6:.1f} MB)")
    print(f"naive regex, INF lines only, pre-split : {a.lines / naive_s:12,.0f} lines/s  ({n_naive:,} matched)")
    print(f"tinykws LineReader, 4 KB chunks, typed : {a.lines / ours_s:12,.0f} lines/s  ({recs:,} records)")
    print(f"speed relative to the naive baseline: x{naive_s / ours_s:.2f} (it also resynchronises, checks and types every line)")
    print(f"CPU per line: {1e6 * ours_cpu / a.lines:.1f} us -> at 60 lines/s the monitor's parser uses "
          f"{100 * 60 * ours_cpu / a.lines:.3f} % of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
