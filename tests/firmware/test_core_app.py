"""The core's application loop (kws_app.c, host build via tinykws.boardcode.native.App): what a board does on
overflows, on mode changes and recording, and with settings it cannot run. Invoke failures and the start-up
faults main.cpp reports are in test_board_sources.py, on a fake port."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tinykws.board.protocol import Ack, Audio, Boot, Error, Inference, Stats, parse_line
from tinykws.errors import UserError
from tinykws.recognizer import RecognizerConfig
from tinykws.spec import FeatureSpec
from tinykws.boardcode.native import App

LABELS = ["yes", "no", "_unknown_", "_silence_"]
SECOND = np.zeros(16000, np.int16)


def fake_run(labels=LABELS, input_scale: float = 0.5, **recognizer) -> SimpleNamespace:
    rec = SimpleNamespace(**{**vars(RecognizerConfig()), **recognizer})
    return SimpleNamespace(spec=FeatureSpec(), labels=labels, model_sha256="ab" * 32, arena_bytes=0, recognizer=rec,
                           report={"model": {"input_scale": input_scale, "input_zero_point": 0,
                                             "output_scale": 1 / 256, "output_zero_point": -128}})


def yes_engine(x: np.ndarray) -> np.ndarray:
    return np.array([127, -128, -128, -128], np.int8)


@pytest.fixture
def app():
    lines: list[str] = []
    a = App(fake_run(), yes_engine, lines.append, stats_period_ms=1000)
    a.lines = lines
    return a


def play(app: App, pcm: np.ndarray) -> list:
    """Feed audio and return the records of the lines it made."""
    start = len(app.lines)
    app.feed(pcm)
    app.step()
    return [parse_line(ln) for ln in app.lines[start:]]


def test_mic_overflows_are_said_at_powers_of_two_and_all_counted(app):
    for _ in range(20):
        app.add_overflow()
    errs = [parse_line(ln) for ln in app.lines[1:]]
    # The 1st, 2nd, 4th, 8th and 16th: visible, never a flood.
    assert errs == [Error("mic_overflow", "microphone buffer overflowed: audio lost")] * 5
    stats = [r for r in play(app, SECOND) if isinstance(r, Stats)]
    assert [(s.t_ms, s.overflows) for s in stats] == [(1000, 20)]
    # Overflows lose no inference: the loop goes on.
    assert stats[0].inferences == 1


def test_mode_idle_then_infer_restarts_the_window(app):
    assert [r.t_ms for r in play(app, SECOND) if isinstance(r, Inference)] == [1000]
    app.command("mode idle")
    idle = play(app, SECOND)
    assert parse_line(app.lines[-len(idle) - 1]) == Ack("mode", "idle")
    assert not [r for r in idle if isinstance(r, Inference)]
    assert [s.mode for s in idle if isinstance(s, Stats)] == ["idle"]
    app.command("mode infer")
    assert parse_line(app.lines[-1]) == Ack("mode", "infer")
    # No window joins audio from before the idle second: the first inference waits for a full new one
    # (49 frames, read in hops: 1000 ms of audio after 2000 ms), then one every 100 ms.
    t_ms = [r.t_ms for r in play(app, np.concatenate([SECOND, SECOND[:4000]])) if isinstance(r, Inference)]
    assert t_ms == [3000, 3100, 3200], t_ms


@pytest.mark.parametrize("before", ["infer", "idle"])
def test_rec_stop_restores_the_mode_before_rec(app, before):
    app.command(f"mode {before}")
    play(app, SECOND)  # infer: a full window, which rec stop must not reuse
    app.command("rec start")
    app.command("rec start")  # twice: still back to `before`, not to rec
    rec = play(app, SECOND[:2048])
    assert [r.seq for r in rec if isinstance(r, Audio)] == list(range(8))
    app.command("rec stop")
    assert parse_line(app.lines[-1]) == Ack("rec", "stop")
    after = play(app, np.concatenate([SECOND, SECOND]))
    assert not [r for r in after if isinstance(r, Audio)]
    assert [s.mode for s in after if isinstance(s, Stats)] == [before, before]
    t_ms = [r.t_ms for r in after if isinstance(r, Inference)]
    if before == "idle":
        assert t_ms == []
    else:
        # Features restart at rec stop (the 128 ms recorded were not analysed): the window refills first.
        assert t_ms[:2] == [1000 + 128 + 1000, 1000 + 128 + 1100], t_ms


@pytest.mark.parametrize("bad", [
    {"stride_ms": 110},          # not a multiple of the 20 ms hop
    {"stride_ms": 0},
    {"input_scale": 0.0},
    {"labels": [f"w{i}" for i in range(33)]},  # more than KWS_RECOGNIZER_MAX_LABELS
    {"threshold": 0.0},
    {"threshold": 1.5},
    {"min_count": 0},
], ids=lambda d: "-".join(f"{k}={v if k != 'labels' else len(v)}" for k, v in d.items()))
def test_init_refuses_settings_it_cannot_run(bad):
    lines: list[str] = []
    with pytest.raises(UserError, match="refused the model settings"):
        App(fake_run(**bad), yes_engine, lines.append)
    boot, err = (parse_line(ln) for ln in lines)
    assert isinstance(boot, Boot) and boot.tag == "BOOT" and boot.status == "bad_arg", lines
    assert err == Error("bad_arg", "model or recognizer settings out of range")
    assert len(lines) == 2


def test_init_accepts_the_boundaries():
    lines: list[str] = []
    App(fake_run(labels=[f"w{i}" for i in range(32)], threshold=1.0, min_count=1, stride_ms=20), yes_engine,
        lines.append)
    assert len(lines) == 1 and parse_line(lines[0]).status == "ok"
