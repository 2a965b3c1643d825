"""What a user meets on the command line that no other test walked: ports, missing inputs, refusals.

Each case runs the real command (a subprocess, or `tinykws.cli.main.main` in this process where a
serial port list has to be faked) and checks the one `error:` line and the exit status.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tty
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from tests.board.fakeboard import FakeBoard


def tinykws(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tinykws", *args], capture_output=True, text=True, timeout=timeout)


def one_error(p, needle, rc=2):
    assert p.returncode == rc, (p.returncode, p.stdout[-500:], p.stderr[-500:])
    assert "Traceback" not in p.stderr, p.stderr
    errs = [l for l in p.stderr.splitlines() if l.startswith("error:")]
    assert len(errs) == 1 and needle in errs[0], p.stderr
    return errs[0]


def in_process(capsys, *argv):
    """``tinykws ARGV`` in this process: (exit status, stdout, stderr)."""
    from tinykws.cli.main import main

    try:
        main(list(argv))
        rc = 0
    except SystemExit as e:
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def fake_ports(monkeypatch, *ports):
    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda: [SimpleNamespace(device=d, description=desc, vid=vid, pid=pid)
                                                          for d, desc, vid, pid in ports])


NANO = ("/dev/ttyACM0", "Arduino Nano 33 BLE", 0x2341, 0x805A)
ESP = ("/dev/ttyUSB0", "CP2102 USB to UART", 0x10C4, 0xEA60)
OTHER = ("/dev/ttyS0", "n/a", None, None)


def test_devices_lists_every_port_with_its_guess(monkeypatch, capsys):
    fake_ports(monkeypatch, NANO, ESP, OTHER)
    rc, out, _ = in_process(capsys, "devices")
    lines = out.splitlines()
    assert rc == 0 and len(lines) == 3
    assert lines[0].startswith("/dev/ttyACM0") and "2341:805a" in lines[0] and "Nano 33 BLE" in lines[0]
    assert lines[1].startswith("/dev/ttyS0") and "(unknown)" in lines[1]  # sorted by device
    assert lines[2].startswith("/dev/ttyUSB0") and "ESP32" in lines[2]
    rc, out, _ = in_process(capsys, "devices", "--json")
    got = json.loads(out)
    assert rc == 0 and [p["device"] for p in got] == ["/dev/ttyACM0", "/dev/ttyS0", "/dev/ttyUSB0"]
    assert got[0]["vid"] == "2341" and got[1]["board"] is None
    fake_ports(monkeypatch)
    assert in_process(capsys, "devices")[1].strip() == "no serial ports found"


@pytest.mark.parametrize("ports,needle", [((OTHER,), "no board found on any serial port"),
                                          ((NANO, ESP, OTHER), "several boards found: /dev/ttyACM0")])
@pytest.mark.parametrize("command", [["monitor", "--duration", "1"], ["record", "--label", "yes", "--count", "1"]])
def test_port_auto_needs_exactly_one_board(monkeypatch, capsys, tmp_path, ports, needle, command):
    fake_ports(monkeypatch, *ports)
    extra = ["--out", str(tmp_path / "ds")] if command[0] == "record" else []
    rc, out, err = in_process(capsys, *command, *extra, "--port", "auto")
    errs = [l for l in err.splitlines() if l.startswith("error:")]
    assert rc == 2 and len(errs) == 1 and needle in errs[0] and "--port PATH" in errs[0], err
    assert not (tmp_path / "ds").exists()


def test_a_port_nobody_answers_on(tmp_path):
    """A port with something that never speaks (another program, firmware that is not tinykws)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    try:
        one_error(tinykws("record", "--port", port, "--label", "yes", "--count", "1", "--out", str(tmp_path / "ds")),
                  "did not answer `info`")
        assert not (tmp_path / "ds").exists()
        one_error(tinykws("monitor", "--port", port, "--duration", "2"), f"nothing came from {port} in 2 s")
    finally:
        os.close(master)
        os.close(slave)


def test_a_board_that_never_starts_recording(tmp_path):
    with FakeBoard(ignore=("rec start",)) as board:
        p = tinykws("record", "--port", board.port, "--label", "yes", "--count", "1", "--out", str(tmp_path / "ds"),
                    timeout=120)
    one_error(p, "the board did not answer `rec start`")
    assert not list((tmp_path / "ds").rglob("*.wav"))


def test_sim_with_a_missing_wav(tiny_run, tmp_path):
    one_error(tinykws("sim", "--run", str(tiny_run), "--wav", str(tmp_path / "nope.wav"), "--duration", "1"),
              f"WAV not found: {tmp_path / 'nope.wav'}")


def test_evaluate_without_a_dataset_or_without_the_keywords(tiny_run, tone_dataset, tmp_path):
    one_error(tinykws("evaluate", str(tiny_run)), "give the DATASET to evaluate on")
    other = tmp_path / "other"
    (other / "cat").mkdir(parents=True)
    shutil.copy(next((tone_dataset / "flat").glob("*.wav")), other / "cat" / "a_nohash_0.wav")
    one_error(tinykws("evaluate", str(tiny_run), str(other)), "has none of the run's keywords (up, down)")


def test_train_refusals(tone_dataset, tmp_path):
    # (A folder of one word trains now: tinykws adds other words and background, tests/data/test_compose.py.)
    p = tinykws("train", str(tone_dataset / "up"), "--epochs", "1", "--out", str(tmp_path / "runs"))
    one_error(p, "no label folders")
    p = tinykws("train", str(tone_dataset), "--epochs", "0", "--out", str(tmp_path / "runs"))
    assert p.returncode == 2 and "'--epochs': 0 is not in the range" in p.stderr and "Traceback" not in p.stderr


def test_report_of_a_sim_log_and_its_refusals(tiny_run, tmp_path):
    from tinykws.board.sim import open_sim
    from tinykws.board.monitor import monitor
    from tests.helpers import keyword_stream

    y, _ = keyword_stream(["up", "down", "up"], gap_s=1.0, seed=5)
    wav = tmp_path / "w.wav"
    sf.write(wav, (y * 32767).astype(np.int16), 16000, subtype="PCM_16")
    log = tmp_path / "board.log"
    with open_sim(tiny_run, [wav], realtime=False) as board:
        board.start()
        monitor(board.port, log_path=log, duration_s=4)
    out = tmp_path / "report"
    p = tinykws("report", str(log), "--run", str(tiny_run), "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "inferences" in p.stdout.lower() and any(out.glob("*.png")), p.stdout
    one_error(tinykws("report", str(tmp_path / "missing.log")), "missing.log")
    empty = tmp_path / "empty.log"
    empty.write_text("")
    p = tinykws("report", str(empty))
    assert p.returncode != 0 and "Traceback" not in p.stderr and p.stderr.strip().splitlines()[-1].startswith("error:")
