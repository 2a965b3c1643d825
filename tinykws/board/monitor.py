"""Watching a board: detections and per-stage latency, live, with every line logged as it arrives.

The log is plain text, one line per board line: ``<host time ISO 8601>\\t<line>``,
flushed per line, so nothing is lost on Ctrl-C or a crash; comment lines
(``#``) mark connects and disconnects. :mod:`tinykws.board.logreport` reads it back.

A board that streams ``AUD`` lines is in recording mode (left so by a recorder
that was killed): it runs no inferences. The port is opened exclusively, so no
recorder is using it now; the monitor sends ``rec stop`` (once per connection,
again if audio keeps coming) and says so in the log, the live view and the summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.board.protocol import Ack, Audio, Boot, BootFilter, Detection, Error, Inference, LineReader, Stats
from tinykws.errors import UserError
from tinykws.io import writing


#: Shown when a BOOT line says the watchdog reset the board (firmware/app/main.cpp: kWatchdogMs).
WATCHDOG_NOTE = ("the board was reset by its watchdog: one pass of its loop hung (a microphone, USB or serial "
                 "driver, or the engine) for 8 s on an ESP32, 60 s on a Nano 33 BLE; it restarted and listens "
                 "again. If it repeats, keep the log (`tinykws monitor --log FILE`) and report it")

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
    watchdog_resets: int = 0  # BOOT lines saying reset=wdt
    disconnects: int = 0
    bad_lines: int = 0  # lines that are not protocol, counted by the line readers
    filter: BootFilter = field(default_factory=BootFilter)  # refuses INF/DET of labels the BOOT did not name
    stats: list[Stats] = field(default_factory=list)  # since the last BOOT, for skipped inferences per interval
    connected: bool = False
    mode: str | None = None  # the board's mode: "infer", "rec" or "idle" (from STAT, or "rec" from AUD lines)
    audio_lines: int = 0  # AUD lines since the board last left recording mode
    notices: list[str] = field(default_factory=list)  # what the monitor did about the board, one line each
    run: object = None  # a run to find the board's model in (besides runs/ and the shipped model)
    _model: dict = field(default_factory=dict)  # (model, board, engine) -> boot_estimate's answer

    @property
    def protocol_errors(self) -> int:
        """Lines that were not protocol plus records naming a label the board's BOOT did not (as the report counts)."""
        return self.bad_lines + self.filter.refused

    def add(self, rec) -> None:
        if not self.filter.accepts(rec):
            return
        if isinstance(rec, Boot):
            if self.boot is not None and rec.tag == "BOOT":
                self.resets += 1
            if rec.tag == "BOOT":
                self.stats = []
                self.mode, self.audio_lines = None, 0
                if rec.reset == "wdt":
                    self.watchdog_resets += 1
                    self.notices.append(WATCHDOG_NOTE)
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
            self.stats = [*self.stats[-1:], rec]
            self.mode = rec.mode
        elif isinstance(rec, Audio):
            self.audio_lines += 1
            self.mode = "rec"
        elif isinstance(rec, Ack) and rec.cmd == "rec" and rec.value == "stop":
            self.mode, self.audio_lines = "infer", 0
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
            "reset_reason": self.boot.reset if self.boot else None,
            "watchdog_resets": self.watchdog_resets,
            "disconnects": self.disconnects,
            "connected": self.connected,
            "mode": self.mode,
            "notices": list(self.notices),
            "protocol_errors": self.protocol_errors,
            "latency_check": self.latency_check(),
        }

    def latency_check(self) -> dict | None:
        """Measured inference time against the estimate for the board's model and engine, and skip warnings
        (:func:`tinykws.board.logreport.latency_check`); ``None`` before the board has said who it is."""
        if self.boot is None:
            return None
        from tinykws.board.logreport import boot_estimate, latency_check

        key = (self.boot.model, self.boot.board, self.boot.engine)
        if key not in self._model:  # looked up once per model, board and engine, not at every refresh
            self._model[key] = boot_estimate(self.boot, self.run)
        estimate, where = self._model[key]
        return latency_check(self.boot, self.inf_us, self.total_us, self.stats, estimate=estimate, model=where)


def log_timestamp() -> str:
    """UTC time with milliseconds, as every monitor log line starts."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def monitor(port: str, *, log_path: Path | None = None, duration_s: float | None = None, baud: int = 921600,
            on_update: Callable[[MonitorState], None] | None = None, expected_model: str | None = None,
            reconnect: bool = True, state: MonitorState | None = None) -> MonitorState:
    """Read the board until ``duration_s`` passes (or Ctrl-C); returns the state.

    ``state`` (optional) is filled in place, so a caller interrupted by Ctrl-C still has the figures so far.
    """
    from tinykws.board.serialio import RESTART_NOTE, open_port, port_errors

    state = state if state is not None else MonitorState()
    log = None
    if log_path:
        with writing(log_path, "--log"):
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "a", buffering=1, encoding="utf-8")
    t_end = None if duration_s is None else time.monotonic() + duration_s
    ser = None
    reader, counted = LineReader(), 0  # counted: the reader's bad lines already added to the state
    asked_at, asks, identified = 0.0, 0, False
    heard = False  # any byte from the board at all
    stop_sent_at, stops = 0.0, 0

    def write_log(text: str) -> None:
        with writing(log_path, "--log"):  # a full disk: one line, and the lines before stay in the log
            log.write(text)

    def note(text: str) -> None:
        if log:
            write_log(f"# {log_timestamp()} {text}\n")

    def ask_info() -> bool:
        """Send `info`; False when the port went away doing it (USB re-enumeration)."""
        nonlocal asked_at, asks
        try:
            ser.write(b"info\n")
        except port_errors():
            return False
        asked_at, asks = time.monotonic(), asks + 1
        return True

    try:
        note(f"monitor {port}")
        while t_end is None or time.monotonic() < t_end:
            if ser is None:
                try:
                    ser = open_port(port, baud)
                except UserError:
                    if state.disconnects == 0 or not reconnect:
                        raise  # never connected: the port is wrong, say so
                    time.sleep(0.5)  # the board is resetting or was unplugged: keep trying
                    continue
                reader, counted = LineReader(), 0
                asks, identified, stops = 0, False, 0
                if state.disconnects:
                    note("reconnected")
                ok = ask_info()
            else:
                ok = True
                if not identified and asks < 3 and time.monotonic() - asked_at > 2.0:
                    ok = ask_info()  # a board that restarted as the port opened lost the first `info`
            data = b""
            if ok:
                try:
                    data = ser.read(max(ser.in_waiting, 1))
                except port_errors():
                    ok = False
            if not ok:
                state.disconnects += 1
                state.connected = False
                note("disconnected")
                if on_update:
                    on_update(state)  # the live view says so instead of showing the last figures as if live
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
            heard = True
            state.connected = True  # on the first bytes, not the open: a vanished pty can open and then fail
            raw: list[str] = []
            for rec in reader.feed(data, raw):
                if isinstance(rec, Boot) and not identified:
                    identified = True
                    if rec.tag == "BOOT" and asks:
                        note(RESTART_NOTE)
                state.add(rec)
                if expected_model and isinstance(rec, Boot) and rec.model != expected_model:
                    from tinykws.board.protocol import check_identity

                    check_identity(rec, expected_model)
            if log:
                stamp = log_timestamp()
                write_log("".join(f"{stamp}\t{line}\n" for line in raw))
            state.bad_lines += reader.bad_lines - counted
            counted = reader.bad_lines
            if state.audio_lines and stops < 3 and time.monotonic() - stop_sent_at > 2.0:
                # Recording mode, left on by a recorder that was killed: nothing else holds the (exclusive) port.
                try:
                    ser.write(b"rec stop\n")
                except port_errors():
                    pass  # noticed as a disconnect at the next read
                stop_sent_at, stops = time.monotonic(), stops + 1
                if stops == 1:
                    text = ("the board was in recording mode (audio lines, no inferences): sent `rec stop`")
                    state.notices.append(text)
                    note(text)
            if on_update:
                on_update(state)
    finally:
        if ser is not None:
            try:
                ser.close()
            except Exception:
                pass
        if log:
            try:
                log.close()
            except OSError:
                pass  # the write that failed has said so; every line before it is in the file
    if not heard and duration_s is not None and state.disconnects == 0:
        raise UserError(f"nothing came from {port} in {duration_s:g} s: is the board running tinykws firmware "
                        f"(`tinykws flash`), at {baud} baud?")
    return state


def live_view(state: MonitorState):
    """A rich renderable of the state (the CLI refreshes it)."""
    from rich.table import Table

    s = state.summary()
    title = f"tinykws monitor — {s['board'] or '?'} model {(s['model'] or '?')[:12]}"
    if not s["connected"] and s["disconnects"]:
        title += " — DISCONNECTED, waiting for the board (figures below are from before)"
    if s["mode"] and s["mode"] != "infer":
        title += f" — board mode: {s['mode']}"
    t = Table(title=title, show_header=True, expand=True)  # the terminal's width, so the caption lines do not wrap at the columns
    t.add_column("stage")
    t.add_column("p50 µs", justify="right")
    t.add_column("p95 µs", justify="right")
    t.add_column("max µs", justify="right")
    for k, name in (("feat", "features"), ("inf", "inference"), ("total", "total")):
        v = s["latency_us"][k]
        t.add_row(name, *(str(v[x]) if v else "-" for x in ("p50", "p95", "max")))
    t.caption = (f"{s['inferences']} inferences, {s['rate_hz'] or '-'} Hz, dropped {s['dropped'] or 0}, "
                 f"overflows {s['overflows'] or 0}, resets {s['resets']}"
                 + (f" (last: {s['reset_reason']})" if s.get("reset_reason") else "")
                 + (f", protocol errors {s['protocol_errors']}" if s["protocol_errors"] else "") + "\n"
                 + "detections: " + (", ".join(f"{d['label']} ({d['score']:.2f}) @ {d['t_ms'] / 1000:.1f}s"
                                               for d in s["detections"][-6:]) or "none yet"))
    check = s.get("latency_check")
    if check and check["lines"]:
        t.caption += "\n" + "\n".join(check["lines"])
    if s["notices"]:
        t.caption += "\n" + "\n".join(s["notices"])
    return t
