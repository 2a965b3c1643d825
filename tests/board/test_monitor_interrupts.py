"""`tinykws monitor` against a scripted board: Ctrl-C (or `kill`) with --json still prints the summary; the
live view says "disconnected" once the board is unplugged; a board left in recording mode is told `rec stop`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.board.fakeboard import FakeBoard


def _monitor(*args: str) -> subprocess.Popen:
    def defaults():  # a suite run in the background inherits SIGINT ignored
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)

    return subprocess.Popen([sys.executable, "-m", "tinykws", "monitor", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=defaults)


def _wait_for(cond, p: subprocess.Popen, timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def _has(path, text: str) -> bool:
    return path.is_file() and text in path.read_text()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "SIGTERM"])
def test_monitor_json_prints_its_summary_when_interrupted(tmp_path, sig):
    log = tmp_path / "board.log"
    with FakeBoard() as board:
        p = _monitor("--port", board.port, "--json", "--log", str(log))
        _wait_for(lambda: _has(log, "INFO proto=1 board=fake"), p)
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and "Traceback" not in err, err
    summary = json.loads(out)
    assert summary["board"] == "fake" and summary["inferences"] == 0 and summary["connected"] is True


def test_live_view_says_disconnected_after_unplug(tmp_path):
    log = tmp_path / "board.log"
    with FakeBoard() as board:
        p = _monitor("--port", board.port, "--log", str(log), "--duration", "6")
        _wait_for(lambda: _has(log, "INFO proto=1 board=fake"), p)
        board.vanish()
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and "Traceback" not in err, err
    assert "DISCONNECTED, waiting for the board" in " ".join(out.split()), out  # the last frame, however rich wraps it


def test_monitor_stops_a_board_left_in_recording_mode(tmp_path):
    log = tmp_path / "board.log"
    with FakeBoard() as board:
        board.recording = True  # a recorder was killed mid-take: the board streams audio, runs no inferences
        p = _monitor("--port", board.port, "--json", "--log", str(log), "--duration", "4")
        out, err = p.communicate(timeout=60)
        assert "rec stop" in board.commands and not board.recording
    assert p.returncode == 0 and "Traceback" not in err, err
    summary = json.loads(out)
    notice = "the board was in recording mode (audio lines, no inferences): sent `rec stop`"
    assert summary["notices"] == [notice] and summary["mode"] == "infer"
    assert notice in log.read_text()
