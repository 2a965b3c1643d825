#!/usr/bin/env python
"""Host parser throughput and the monitor's CPU cost per line.

Baseline in the same run: a naive parser that splits the whole text into lines
and runs one ``key=value`` regex per line, converting numbers (no framing,
length, charset or CRC checks, no resynchronisation). tinykws's LineReader takes
raw bytes in arbitrary chunks, resynchronises and builds typed records. The
monitor's cost per line is the whole per-line path of ``tinykws monitor``:
parse, update the running state, append the time-stamped raw line to the log
(line-buffered, i.e. one write per line). The board's fastest realistic rate is ~50
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

FIELD = re.compile(rb"(\w+)=(\S+)")


def naive_parse(data: bytes) -> int:
    """The baseline: per-line regex to a dict, numbers converted; returns the number of records."""
    n = 0
    for line in data.split(b"\n"):
        if not line:
            continue
        tag = line[: line.find(b" ")]
        d = {k: v for k, v in FIELD.findall(line)}
        for k, v in d.items():
            if v[:1].isdigit():
                d[k] = float(v) if b"." in v else int(v)
        n += bool(tag)
    return n


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
    n_naive = naive_parse(data)
    naive_s = time.perf_counter() - t
    r = LineReader()
    t = time.perf_counter()
    recs = 0
    for i in range(0, len(data), 4096):  # as a serial port delivers it
        recs += len(r.feed(data[i : i + 4096]))
    ours_s = time.perf_counter() - t

    # The monitor's per-line path, on process CPU time.
    import tempfile

    from tinykws.board.monitor import MonitorState, log_timestamp

    state, reader = MonitorState(), LineReader()
    with tempfile.TemporaryDirectory() as d, open(Path(d) / "board.log", "a", buffering=1, encoding="utf-8") as log:
        c = time.process_time()
        for i in range(0, len(data), 4096):
            raw: list[str] = []
            for rec in reader.feed(data[i : i + 4096], raw):
                state.add(rec)
            stamp = log_timestamp()
            for line in raw:
                log.write(f"{stamp}\t{line}\n")
        mon_cpu = time.process_time() - c
    per_line_us = 1e6 * mon_cpu / a.lines
    print(f"{a.lines:,} lines ({len(data) / 1e6:.1f} MB), INF/DET/STAT mix")
    print(f"naive per-line regex, pre-split      : {a.lines / naive_s:12,.0f} lines/s  ({n_naive:,} records)")
    print(f"tinykws LineReader, 4 KB chunks, typed: {a.lines / ours_s:12,.0f} lines/s  ({recs:,} records)")
    print(f"LineReader speed relative to the naive baseline: x{naive_s / ours_s:.2f}")
    print(f"monitor per line (parse + state + logged line): {per_line_us:.1f} us CPU")
    for rate in (50, 1000):
        print(f"  at {rate} lines/s: {100 * rate * per_line_us / 1e6:.2f} % of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
