"""Watching a board: detections and per-stage latency, live, with every line logged as it arrives.

The log is plain text, one line per board line: ``<host time ISO 8601>\\t<line>``,
flushed per line, so nothing is lost on Ctrl-C or a crash; comment lines
(``#``) mark connects and disconnects. :mod:`tinykws.board.logreport` reads it back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.board.protocol import Boot, Detection, Error, Inference, LineReader, Stats
from tinykws.errors import UserError


@dataclass
class MonitorState:
    boot: Boot | None = None
    inferences: int = 0
    feat_us: list[int] = field(default_factory=list)
    inf_us: list[int] = field(default_factory=list)
    total_us: list[int] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    errors: list[Error] = field(default_factory=list)
    last_stats: Stats | None = None
    resets: int = 0
    disconnects: int = 0
    bad_lines: int = 0

    def add(self, rec) -> None:
        if isinstance(rec, Boot):
            if self.boot is not None and rec.tag == "BOOT":
                self.resets += 1
            self.boot = rec
        elif isinstance(rec, Inference):
            self.inferences += 1
            self.feat_us.append(rec.feat_us)
            self.inf_us.append(rec.inf_us)
            self.total_us.append(rec.total_us)
        elif isinstance(rec, Detection):
            self.detections.append(rec)
        elif isinstance(rec, Stats):
            self.last_stats = rec
        elif isinstance(rec, Error):
            self.errors.append(rec)

    def summary(self) -> dict:
        def pct(xs):
            if not xs:
                return None
            a = np.asarray(xs[-10000:])
            return {"p50": int(np.percentile(a, 50)), "p95": int(np.percentile(a, 95)), "max": int(a.max())}

        return {
            "board": self.boot.board if self.boot else None,
            "model": self.boot.model if self.boot else None,
            "inferences": self.inferences,
            "latency_us": {"feat": pct(self.feat_us), "inf": pct(self.inf_us), "total": pct(self.total_us)},
            "rate_hz": self.last_stats.rate_hz if self.last_stats else None,
            "dropped": self.last_stats.dropped if self.last_stats else None,
            "overflows": self.last_stats.overflows if self.last_stats else None,
            "detections": [{"t_ms": d.t_ms, "label": d.label, "score": d.score} for d in self.detections],
            "errors": [{"code": e.code, "msg": e.msg} for e in self.errors],
            "resets": self.resets,
            "disconnects": self.disconnects,
        }


def log_timestamp() -> str:
    """UTC time with milliseconds, as every monitor log line starts."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def monitor(port: str, *, log_path: Path | None = None, duration_s: float | None = None, baud: int = 921600,
            on_update: Callable[[MonitorState], None] | None = None, expected_model: str | None = None,
            reconnect: bool = True) -> MonitorState:
    """Read the board until ``duration_s`` passes (or Ctrl-C); returns the state."""
    import serial

    from tinykws.board.serialio import open_port

    state = MonitorState()
    log = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else None
    t_end = None if duration_s is None else time.monotonic() + duration_s
    ser = None
    reader = LineReader()
    try:
        if log:
            log.write(f"# {log_timestamp()} monitor {port}\n")
        while t_end is None or time.monotonic() < t_end:
            if ser is None:
                try:
                    ser = open_port(port, baud)
                    reader = LineReader()
                    ser.write(b"info\n")
                except UserError:
                    if state.disconnects == 0 or not reconnect:
                        raise  # never connected: the port is wrong, say so
                    time.sleep(0.5)  # the board is resetting or was unplugged: keep trying
                    continue
                if log and state.disconnects:
                    log.write(f"# {log_timestamp()} reconnected\n")
            try:
                data = ser.read(max(ser.in_waiting, 1))
            except (serial.SerialException, OSError):
                state.disconnects += 1
                if log:
                    log.write(f"# {log_timestamp()} disconnected\n")
                try:
                    ser.close()
                except Exception:
                    pass
                ser = None
                if not reconnect:
                    break
                continue
            if not data:
                continue
            raw: list[str] = []
            for rec in reader.feed(data, raw):
                state.add(rec)
                if expected_model and isinstance(rec, Boot) and rec.model != expected_model:
                    from tinykws.board.protocol import check_identity

                    check_identity(rec, expected_model)
            if log:
                stamp = log_timestamp()
                for line in raw:
                    log.write(f"{stamp}\t{line}\n")
            state.bad_lines = reader.bad_lines
            if on_update:
                on_update(state)
    finally:
        if ser is not None:
            ser.close()
        if log:
            log.close()
    return state


def live_view(state: MonitorState):
    """A rich renderable of the state (the CLI refreshes it)."""
    from rich.table import Table

    s = state.summary()
    t = Table(title=f"tinykws monitor — {s['board'] or '?'} model {(s['model'] or '?')[:12]}", show_header=True)
    t.add_column("stage")
    t.add_column("p50 µs", justify="right")
    t.add_column("p95 µs", justify="right")
    t.add_column("max µs", justify="right")
    for k, name in (("feat", "features"), ("inf", "inference"), ("total", "total")):
        v = s["latency_us"][k]
        t.add_row(name, *(str(v[x]) if v else "-" for x in ("p50", "p95", "max")))
    t.caption = (f"{s['inferences']} inferences, {s['rate_hz'] or '-'} Hz, dropped {s['dropped'] or 0}, "
                 f"overflows {s['overflows'] or 0}, resets {s['resets']}\n"
                 + "detections: " + ", ".join(f"{d['label']} ({d['score']:.2f}) @ {d['t_ms'] / 1000:.1f}s" for d in s["detections"][-6:]))
    return t
