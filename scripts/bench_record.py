#!/usr/bin/env python
"""Recording bandwidth: does 16 kHz int16 audio as AUD lines fit a 921600-baud UART?

Arithmetic first (the line format of docs/protocol.md, encoded by the firmware
core's own encoder), then a measurement: AUD lines pushed through a real
pseudo-terminal and read back with pyserial and the host parser, CRC-checked,
against the audio rate. A pty is faster than a UART, so the measurement shows
the host side keeps up; the arithmetic shows the wire does.

Usage: python scripts/bench_record.py [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import tty
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinykws.board.protocol import Audio, LineReader  # noqa: E402
from tinykws.boardcode.native import encode_audio  # noqa: E402

SR, CHUNK, BAUD = 16000, 256, 921600


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    pcm = rng.integers(-32768, 32768, int(a.seconds * SR)).astype(np.int16)
    lines = [encode_audio(i, pcm[i * CHUNK : (i + 1) * CHUNK]).encode() for i in range(len(pcm) // CHUNK)]
    line_bytes = np.mean([len(l) for l in lines])
    need = line_bytes * SR / CHUNK
    wire = BAUD / 10  # 8N1: 10 bits per byte
    print(f"AUD line: {line_bytes:.0f} bytes per {CHUNK} samples ({1000 * CHUNK / SR:.0f} ms)")
    print(f"needed: {need:,.0f} B/s for 16 kHz int16 (raw audio {2 * SR:,} B/s; framing and base64 x{need / (2 * SR):.2f})")
    print(f"UART {BAUD} baud carries {wire:,.0f} B/s -> margin x{wire / need:.2f}; 115200 baud: x{11520 / need:.2f}")

    import serial

    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    blob = b"".join(lines)

    def writer():
        view = memoryview(blob)
        while view:
            n = os.write(master, view[:4096])
            view = view[n:]

    ser = serial.Serial(port, BAUD, timeout=0.2)
    t = threading.Thread(target=writer, daemon=True)
    r = LineReader()
    got, bad, t0 = 0, 0, time.perf_counter()
    t.start()
    while got < len(lines):
        data = ser.read(max(ser.in_waiting, 1))
        if not data and not t.is_alive():
            break
        for rec in r.feed(data):
            if isinstance(rec, Audio):
                got += 1
                bad += not rec.crc_ok
    dt = time.perf_counter() - t0
    ser.close()
    os.close(master)
    audio_s = got * CHUNK / SR
    print(f"pseudo-terminal: {got}/{len(lines)} chunks, {bad} CRC errors, {audio_s:.0f} s of audio in {dt:.2f} s "
          f"= x{audio_s / dt:.0f} real time ({len(blob) / dt / 1e6:.1f} MB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
