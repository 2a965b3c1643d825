"""`tinykws record` against a scripted board: a BOOT line with an absurd rate is one error line; an
interrupted long take keeps what was captured; Ctrl-C, SIGTERM and SIGHUP all leave the board out of
recording mode."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import soundfile as sf

from tests.board.fakeboard import FakeBoard, boot_line

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _record(*args: str) -> subprocess.Popen:
    def defaults():  # a suite run in the background or under nohup inherits some of these ignored
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_DFL)

    return subprocess.Popen([sys.executable, "-m", "tinykws", "record", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=defaults)


def _wait_for(cond, timeout_s: float = 60.0, p: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        assert p is None or p.poll() is None, p.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_record_refuses_a_board_whose_boot_says_sr_0(tmp_path):
    out = tmp_path / "ds"
    with FakeBoard(boot=boot_line(sr=0).decode().strip()) as board:
        p = _record("--port", board.port, "--label", "yes", "--count", "1", "--countdown", "0", "--out", str(out))
        _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the board's INFO line says sr=0"), err
    assert "outside 4000-192000 Hz" in lines[0]
    assert not out.exists()  # nothing left behind, not even an empty dataset folder


def test_ctrl_c_in_a_long_background_take_keeps_the_part_captured(tmp_path):
    out = tmp_path / "ds"
    with FakeBoard(speed=1.0) as board:  # real time: a slow recorder must not lose chunks to a full pty
        p = _record("--port", board.port, "--label", "_background_noise_", "--seconds", "10", "--countdown", "0",
                    "--out", str(out), "--speaker", "room")
        _wait_for(lambda: board.chunks_sent * 256 >= 4 * 16000, p=p)  # 4 of the 10 s streamed
        p.send_signal(signal.SIGINT)
        stdout, err = p.communicate(timeout=60)
        _wait_for(lambda: not board.recording, 5)
    assert p.returncode == 130 and "Traceback" not in err, err
    files = list((out / "_background_noise_").iterdir())
    assert [f.name for f in files] == ["room_nohash_0.wav"]
    frames = sf.info(files[0]).frames
    assert 16000 <= frames < 10 * 16000
    assert f"stopped early: kept the {frames / 16000:.1f} s recorded so far in {files[0]}" in stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_record_killed_mid_take_stops_the_boards_recording(tmp_path, sig):
    with FakeBoard() as board:
        p = _record("--port", board.port, "--label", "yes", "--count", "50", "--countdown", "0",
                    "--out", str(tmp_path / "ds"), "--speaker", "x")
        _wait_for(lambda: board.recording and board.chunks_sent > 20, p=p)
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        _wait_for(lambda: "rec stop" in board.commands, 5)
        assert not board.recording
    assert p.returncode == 130 and "Traceback" not in err, err
