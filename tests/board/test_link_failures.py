"""The board link on real pseudo-terminals when the board misbehaves: it restarts as the port opens
(ESP32 auto-reset), it is unplugged mid-run, its USB device re-enumerates. One line, never a traceback,
and nothing already recorded is lost."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from tests.board.fakeboard import FakeBoard
from tinykws.board.protocol import Ack, Boot
from tinykws.board.serialio import RESTART_NOTE, BoardLink, open_port
from tinykws.errors import UserError


def _tinykws(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "tinykws", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def _one_line_error(stderr: str, needle: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [l for l in stderr.strip().splitlines() if l.strip()]
    assert lines and lines[-1].startswith("error: ") and needle in lines[-1], stderr
    return lines[-1]


# ---- opening the port without resetting the board -------------------------------------------------------------

def test_open_port_lowers_dtr_and_rts_before_opening(monkeypatch):
    import serial

    seen = {}

    class Recording(serial.Serial):
        def open(self):
            seen["dtr"], seen["rts"] = self.dtr, self.rts  # the state the port opens with
            seen["opened_with_port"] = self.port
            return super().open()

    monkeypatch.setattr(serial, "Serial", Recording)
    with FakeBoard() as board:
        ser = open_port(board.port)
        try:
            assert seen == {"dtr": False, "rts": False, "opened_with_port": board.port}
            assert ser.is_open and ser.dtr is False and ser.rts is False
        finally:
            ser.close()


def test_hello_waits_for_boot_when_the_board_restarts_as_the_port_opens():
    said = []
    with FakeBoard(restart_on_first_command=True) as board:
        link = BoardLink(open_port(board.port), board.port)
        try:
            boot = link.hello(say=said.append)
        finally:
            link.close()
    assert isinstance(boot, Boot) and boot.tag == "BOOT" and boot.board == "fake"
    assert said == [RESTART_NOTE]


def test_a_command_lost_to_a_restart_is_sent_again():
    said = []
    with FakeBoard(restart_on_first_command=True) as board:
        link = BoardLink(open_port(board.port), board.port)
        try:
            ack = link.request(b"rec start\n", Ack, lambda a: a.cmd == "rec", timeout_s=3.0, say=said.append)
            link.send(b"rec stop\n")
        finally:
            link.close()
        commands = list(board.commands)
    assert ack == Ack("rec", "start")
    assert commands[:2] == ["rec start", "rec start"]  # the first one was lost to the restart
    assert said == [RESTART_NOTE] and link.boot.tag == "BOOT"


def test_record_uses_the_boards_rate_and_survives_its_restart_on_open(tmp_path):
    """An 8 kHz board (its BOOT says sr=8000) that restarts when the port opens: the clips are 8 kHz, one
    spec clip long (8000 samples), the restart is said, and each take's level is judged against the target."""
    from tinykws.board.record import record

    said = []
    with FakeBoard(sr=8000, amplitude=3000, restart_on_first_command=True) as board:
        link = BoardLink(open_port(board.port), board.port)
        try:
            takes = record(link, label="yes", count=2, out=tmp_path / "ds", speaker="tester", countdown_s=0,
                           capture_s=1.5, say=said.append)
        finally:
            link.close()
        deadline = time.monotonic() + 3
        while "rec stop" not in board.commands and time.monotonic() < deadline:
            time.sleep(0.01)
        commands = list(board.commands)
    assert [t.path.name for t in takes] == ["tester_nohash_0.wav", "tester_nohash_1.wav"]
    for t in takes:
        info = sf.info(t.path)
        assert info.samplerate == 8000 and info.frames == 8000
    assert RESTART_NOTE in said
    level = [s for s in said if "speech peaks should sit between -20 and -6 dBFS" in s]
    assert len(level) == 2  # one line per take
    assert all("peaked at -21 dBFS: move closer or flash with --mic-gain" in s for s in level)
    assert commands[-1] == "rec stop"


def test_level_line_says_too_loud_and_good():
    from tinykws.board.record import level_line, peak_dbfs

    assert peak_dbfs(np.array([0, 16384, -100], np.int16)) == pytest.approx(-6.02, abs=0.01)
    assert level_line(-3.0).endswith("move back a little or flash with a lower --mic-gain")
    assert level_line(-12.0).endswith("this take peaked at -12 dBFS: good")
    assert level_line(-41.0).endswith("this take peaked at -41 dBFS: move closer or flash with --mic-gain")


# ---- unplugged mid-run ---------------------------------------------------------------------------------------------

def test_link_reports_a_vanished_port_in_one_line():
    with FakeBoard() as board:
        link = BoardLink(open_port(board.port), board.port)
        board.vanish()
        with pytest.raises(UserError, match="lost the connection to .*unplugged"):
            for _ in range(20):
                link.poll()
        with pytest.raises(UserError, match="lost the connection"):
            link.send(b"info\n")
        link.close()


def test_record_unplugged_mid_run_keeps_the_clips_already_written(tmp_path):
    out = tmp_path / "ds"
    with FakeBoard(amplitude=8000, speed=2.0) as board:
        p = _tinykws("record", "--port", board.port, "--label", "yes", "--count", "20", "--countdown", "0",
                     "--out", str(out), "--speaker", "x")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list((out / "yes").glob("*.wav")) if (out / "yes").exists() else []) < 2:
            time.sleep(0.05)
        board.vanish()  # unplugged during the third take
        _, err = p.communicate(timeout=60)
    assert p.returncode == 2
    line = _one_line_error(err, "lost the connection")
    files = sorted((out / "yes").iterdir())
    assert len(files) >= 2 and f"{len(files)} clip(s) recorded before are kept" in line
    for f in files:
        assert not f.name.startswith(".") and sf.info(f).frames == 16000


# ---- flash: the boot wait while the board re-enumerates ---------------------------------------------------------

def test_flash_boot_wait_rides_out_a_port_that_vanishes_and_returns(tmp_path):
    from tinykws.board.flash import wait_for_boot

    link = tmp_path / "ttyACM"  # a stable name, like /dev/serial/by-id/..., for whichever pty is live
    first = FakeBoard(vanish_on_command="info").start()  # gone as soon as it is written to
    os.symlink(first.port, link)
    second = FakeBoard()
    try:
        import threading

        def replug():
            while not first.gone:
                time.sleep(0.01)
            time.sleep(0.3)
            second.start()
            os.unlink(link)
            os.symlink(second.port, link)

        threading.Thread(target=replug, daemon=True).start()
        boot = wait_for_boot(str(link), 10)
    finally:
        first.close()
        second.close()
    assert boot.tag == "INFO" and boot.board == "fake"
    assert first.commands == ["info"]


def test_flash_boot_wait_gives_one_line_when_the_board_never_returns(tmp_path):
    from tinykws.board.flash import wait_for_boot

    with FakeBoard(vanish_on_command="info") as board:
        with pytest.raises(UserError, match="no BOOT line from .* within 2 s .*is the board running tinykws firmware"):
            wait_for_boot(board.port, 2)


# ---- monitor: a write during re-enumeration ---------------------------------------------------------------------

def test_monitor_treats_a_failed_write_as_a_disconnect(tmp_path, monkeypatch):
    from tinykws.board import monitor as mon
    from tinykws.board import serialio

    log = tmp_path / "board.log"
    with FakeBoard() as board:
        real_open = serialio.open_port

        def open_then_unplug(port, baud=921600, timeout_s=0.1):
            ser = real_open(port, baud, timeout_s)
            board.vanish()  # the USB device re-enumerates between opening and the first write
            return ser

        monkeypatch.setattr(serialio, "open_port", open_then_unplug)
        state = mon.monitor(board.port, log_path=log, duration_s=3, reconnect=False)
    assert state.disconnects == 1
    assert "disconnected" in log.read_text()


def test_monitor_asks_again_when_the_board_restarted_as_the_port_opened(tmp_path):
    from tinykws.board.monitor import monitor

    log = tmp_path / "board.log"
    with FakeBoard(restart_on_first_command=True) as board:
        state = monitor(board.port, log_path=log, duration_s=3.0)
    text = log.read_text()
    assert state.boot is not None and state.boot.board == "fake"
    assert RESTART_NOTE in text and "\tBOOT proto=1" in text
