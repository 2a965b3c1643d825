"""The C application loop in real time (ctypes, tinykws.boardcode.native.App): a fake clock, a
microphone ring with the Nano 33 BLE port's capacity, and an engine slower than the stride.

One kws_app_step must do bounded work and return, so the caller's loop keeps answering commands
and the port keeps its accounting; the core skips inferences it cannot keep up with (STAT
skipped=) instead of letting the ring overflow. Lost audio restarts the features at the gap.
"""

import re
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from tinykws.board.protocol import Audio, Boot, Detection, Inference, Stats, parse_line
from tinykws.recognizer import RecognizerConfig
from tinykws.spec import FeatureSpec
from tinykws.boardcode.native import App, StreamingMfcc, quantize_window

REPO = Path(__file__).resolve().parents[2]
SPEC = FeatureSpec()
LABELS = ["yes", "no", "_unknown_", "_silence_"]
SR = SPEC.sample_rate


def nano_ring_capacity() -> int:
    """Samples the Nano port's ring holds: KWS_RING_SIZE (the port's own, else kws_ring.h's) - 1."""
    pattern = r"#define\s+KWS_RING_SIZE\s+(\d+)u?"
    port = (REPO / "firmware/ports/nano33ble/port_nano33ble.cpp").read_text()
    header = (REPO / "firmware/lib/kws_core/include/kws_ring.h").read_text()
    m = re.search(pattern, port) or re.search(pattern, header)
    return int(m.group(1)) - 1


def fake_run(stride_ms=100, **rec):
    recognizer = RecognizerConfig(stride_ms=stride_ms, **{"average_window_ms": 1000, "threshold": 0.5,
                                                          "suppression_ms": 3000, "min_count": 1, **rec})
    return SimpleNamespace(spec=SPEC, labels=LABELS, model_sha256="ab" * 32, arena_bytes=0, recognizer=recognizer,
                           report={"model": {"input_scale": 0.5, "input_zero_point": 0,
                                             "output_scale": 1 / 256, "output_zero_point": -128}})


class RealTimeMic:
    """A microphone interrupt filling a ring of `capacity` samples as the fake clock advances."""

    def __init__(self, pcm, clock, capacity):
        self.pcm, self.clock, self.capacity = pcm, clock, capacity
        self.produced = 0  # samples the microphone has delivered so far (into the ring or dropped)
        self.ring = deque()
        self.dropped = 0
        self.reads = 0

    def _fill(self):
        due = min(len(self.pcm), self.clock["us"] * SR // 1_000_000)
        for i in range(self.produced, due):
            if len(self.ring) < self.capacity:
                self.ring.append(i)
            else:
                self.dropped += 1  # a full ring drops the new samples, as kws_ring_write does
        self.produced = max(self.produced, due)

    def read(self, max_n):
        self._fill()
        n = min(max_n, len(self.ring))
        idx = [self.ring.popleft() for _ in range(n)]
        if n:
            self.clock["us"] += 1000  # a hop's MFCC on the board: about 1 ms
        return self.pcm[idx].astype(np.int16)

    def take_dropped(self):
        self._fill()
        n, self.dropped = self.dropped, 0
        return n


def test_slow_engine_skips_inferences_and_the_loop_keeps_answering():
    clock = {"us": 0}
    rng = np.random.default_rng(0)
    pcm = rng.normal(0, 300, 10 * SR).astype(np.int16)
    mic = RealTimeMic(pcm, clock, nano_ring_capacity())
    keyword_ms = (4000, 5500)  # the engine "hears" the keyword in windows ending here
    calls = []

    def engine(x):
        t = app.time_ms()
        calls.append(t)
        clock["us"] += 250_000  # 250 ms per inference, at a 100 ms stride
        out = np.full(len(LABELS), -128, np.int8)
        out[0 if keyword_ms[0] <= t <= keyword_ms[1] else 3] = 127
        return out

    lines = []
    app = App(fake_run(stride_ms=100), engine, lines.append, audio=mic.read, micros=lambda: clock["us"],
              stats_period_ms=1000)
    assert app._cfg.offline == 0  # an audio callable: real time, as on a board

    commands = ["info", "thr 0.5", "mode infer", "bogus"]
    next_cmd_us, sent, latencies, answered = 300_000, 0, [], 0
    steps, dropped_total = 0, 0
    while clock["us"] < 11_600_000:  # the audio ends at 10 s; then a STAT from the no-audio fallback
        dropped = mic.take_dropped()  # the port's dropped-sample accounting, every loop
        dropped_total += dropped
        if dropped:
            app.add_dropped(dropped)
        before = len(calls)
        app.step_once()
        assert len(calls) - before <= 1, "one inference per step at most"
        steps += 1
        if clock["us"] >= next_cmd_us:  # the host sent a command meanwhile: the loop reads it now
            latencies.append(clock["us"] - next_cmd_us)
            n_lines = len(lines)
            app.command(commands[sent % len(commands)])
            answered += any(parse_line(l).__class__.__name__ in ("Ack", "Boot", "Error") for l in lines[n_lines:])
            sent += 1
            next_cmd_us += 700_000
        clock["us"] += 200  # the rest of loop(): LED, host bytes, housekeeping

    recs = [parse_line(l) for l in lines]
    infs = [r for r in recs if isinstance(r, Inference)]
    stats = [r for r in recs if isinstance(r, Stats)]
    dets = [r for r in recs if isinstance(r, Detection)]
    print(f"{len(infs)} inferences, {stats[-1].skipped} skipped, {steps} steps, worst command latency "
          f"{max(latencies) / 1000:.0f} ms")
    assert dropped_total == 0 and all(s.dropped == 0 for s in stats)
    assert sent >= 13 and answered == sent  # every command answered, between steps
    assert max(latencies) <= 300_000  # never more than one inference plus a few hops away
    assert 30 <= len(infs) <= 45 and len(infs) == len(calls)
    last = stats[-1]
    assert last.t_ms == 10_000 and last.inferences == len(infs) and last.tx_dropped == 0
    # Every 100 ms of audio once the window is full was either inferred or skipped (the last one
    # may still be waiting).
    due = (len(pcm) // SPEC.hop_length - SPEC.n_frames) // 5 + 1
    assert last.skipped > 0 and due - 1 <= len(infs) + last.skipped <= due, (len(infs), last.skipped, due)
    # Inferences run on the newest window: its time is close to the audio the mic had delivered.
    assert [d.label for d in dets] == ["yes"] and keyword_ms[0] <= dets[0].t_ms <= keyword_ms[1]


def test_fast_engine_skips_nothing():
    clock = {"us": 0}
    pcm = np.random.default_rng(1).normal(0, 300, 4 * SR).astype(np.int16)
    mic = RealTimeMic(pcm, clock, nano_ring_capacity())

    def engine(x):
        clock["us"] += 30_000
        return np.array([-128, -128, -128, 127], np.int8)

    lines = []
    app = App(fake_run(), engine, lines.append, audio=mic.read, micros=lambda: clock["us"], stats_period_ms=1000)
    while clock["us"] < 4_200_000:
        app.step_once()
        clock["us"] += 2000
    stats = [parse_line(l) for l in lines if l.startswith("STAT")]
    infs = [l for l in lines if l.startswith("INF")]
    assert stats[-1].skipped == 0 and stats[-1].dropped == 0
    assert len(infs) == (len(pcm) // SPEC.hop_length - SPEC.n_frames) // 5 + 1


def test_dropped_audio_restarts_the_features_at_the_gap():
    """After a gap the first window holds frames of the new audio only: none spans the gap."""
    rng = np.random.default_rng(2)
    a = rng.normal(0, 2000, 2 * SR).astype(np.int16)
    b = (rng.normal(0, 2000, 2 * SR) * np.linspace(0.2, 1.0, 2 * SR)).astype(np.int16)
    windows = []
    lines = []
    app = App(fake_run(), lambda x: (windows.append((app.time_ms(), x)), np.zeros(4, np.int8))[1], lines.append,
              stats_period_ms=1000)
    for i in range(0, len(a), 256):
        app.feed(a[i : i + 256])
        app.step()
    n_before = len(windows)
    gap_ms = app.time_ms()
    app.add_dropped(1234)
    for i in range(0, len(b), 256):
        app.feed(b[i : i + 256])
        app.step()
    after = windows[n_before:]
    # The window refills from nothing: the first inference needs n_frames frames of the new audio.
    first_t, first = after[0]
    need = SPEC.n_fft + (SPEC.n_frames - 1) * SPEC.hop_length
    assert first_t - gap_ms >= 1234 * 1000 // SR + need * 1000 // SR - 20
    fresh = StreamingMfcc(SPEC).push(b[:need])
    assert fresh.shape[0] == SPEC.n_frames
    assert np.array_equal(first, quantize_window(fresh, 0.5, 0, SPEC))
    stat = [parse_line(l) for l in lines if l.startswith("STAT")]
    assert stat and stat[-1].dropped == 1234


def test_dropped_audio_while_recording_leaves_a_gap_in_seq():
    lines = []
    app = App(fake_run(), lambda x: np.zeros(4, np.int8), lines.append)
    app.command("rec start")
    app.feed(np.arange(300, dtype=np.int16))
    app.step()
    app.add_dropped(600)
    app.feed(np.arange(512, dtype=np.int16))
    app.step()
    seqs = [r.seq for r in map(parse_line, lines) if isinstance(r, Audio)]
    assert seqs[0] == 0 and seqs[1] > 1 and seqs[2] == seqs[1] + 1  # the host sees the gap


def test_every_engine_call_is_one_step_once_offline_too():
    """Audio queued with feed() is a file: every due window is inferred, none skipped, at its own time."""
    lines, times = [], []
    app = App(fake_run(), lambda x: (times.append(app.time_ms()), np.zeros(4, np.int8))[1], lines.append)
    assert app._cfg.offline == 1
    app.feed(np.zeros(5 * SR, np.int16))
    steps = 0
    while app.step_once():
        steps += 1
    infs = [parse_line(l) for l in lines if l.startswith("INF")]
    assert len(infs) == (5 * SR // SPEC.hop_length - SPEC.n_frames) // 5 + 1 and steps >= len(infs)
    assert [r.t_ms for r in infs] == times
    assert isinstance(parse_line(lines[0]), Boot) and not any(l.startswith("ERR") for l in lines)
