"""End to end on real pseudo-terminals: the virtual board (C core + TFLM) with record, monitor, report, flash."""

import select
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from tinykws.board.protocol import Boot
from tinykws.board.serialio import BoardLink, open_port


@pytest.fixture()
def stream_wav(tmp_path):
    from tests.helpers import keyword_stream

    y, marks = keyword_stream(["up", "down", "up", "flat", "down"], gap_s=1.2, seed=3)
    p = tmp_path / "words.wav"
    sf.write(p, (y * 32767).astype(np.int16), 16000, subtype="PCM_16")
    return p, marks


def _sim(run, wav, **kw):
    from tinykws.board.sim import open_sim

    return open_sim(run, [wav], **kw)


def test_monitor_logs_the_detections(tiny_run, stream_wav, tmp_path):
    """monitor over a real pseudo-terminal; the virtual board's engine hears exactly the spoken words
    (tests.helpers.oracle_engine), so what is checked is the link, not a model's confidence."""
    from tests.helpers import oracle_engine
    from tinykws.board.logreport import read_log, summarize
    from tinykws.board.monitor import monitor
    from tinykws.run import load_run

    wav, marks = stream_wav
    log = tmp_path / "board.log"
    engine = oracle_engine(load_run(tiny_run), marks, lambda: board.app.time_ms())
    with _sim(tiny_run, wav, realtime=False, engine=engine) as board:
        # The board starts once the monitor has opened the port (and asked `info`), so no line is
        # written before anyone listens; then it runs faster than real time.
        box = {}
        reader = threading.Thread(target=lambda: box.setdefault("state", monitor(board.port, log_path=log, duration_s=8)))
        reader.start()
        assert select.select([board.master], [], [], 10)[0], "monitor never opened the port"
        board.start(duration_s=len(sf.read(wav)[0]) / 16000 + 1)
        reader.join(30)
        state = box["state"]
    labels = [d.label for d in state.detections]
    assert labels == [w for w, _ in marks if w != "flat"]
    s = state.summary()
    assert s["latency_us"]["inf"]["p50"] > 0 and s["inferences"] > 50
    # Every line was logged as it came, and the report reads it back.
    recs = read_log(log)
    rep = summarize(recs, load_run(tiny_run))
    assert rep["detections"] == len(labels) and "drift" in rep


def test_record_clips_equal_the_source_audio(tiny_run, stream_wav, tmp_path):
    from tinykws.board.record import record

    wav, marks = stream_wav
    src = sf.read(wav, dtype="int16")[0]
    with _sim(tiny_run, wav, realtime=True) as board:
        board.start()
        link = BoardLink(open_port(board.port))
        try:
            takes = record(link, label="up", count=2, out=tmp_path / "ds", speaker="tester", countdown_s=0.5,
                           capture_s=1.5, say=lambda s: None)
        finally:
            link.close()
    assert [t.path.name for t in takes] == ["tester_nohash_0.wav", "tester_nohash_1.wav"]
    for t in takes:
        y, sr = sf.read(t.path, dtype="int16")
        assert sr == 16000 and len(y) == 16000
        # The clip is a contiguous piece of what the board's microphone heard.
        hits = [i for i in range(0, len(src) - 16000) if src[i] == y[0] and np.array_equal(src[i : i + 16000], y)]
        assert hits, "recorded audio is not the source audio"


def test_info_reconnect_and_bad_commands(tiny_run, stream_wav):
    from tinykws.board.protocol import Error

    wav, _ = stream_wav
    with _sim(tiny_run, wav, realtime=True) as board:
        board.start()
        for _ in range(2):  # connect, disconnect, connect again
            link = BoardLink(open_port(board.port))
            link.send(b"info\n")
            boot = link.wait_for(Boot, 3.0, lambda b: b.tag == "INFO")
            assert boot is not None and boot.board == "sim"
            link.send(b"\xff\xfegarbage\n")
            err = link.wait_for(Error, 3.0)
            assert err is not None and err.code == "bad_cmd"
            link.close()


def test_ctrl_c_during_recording_leaves_no_partial_file(tiny_run, stream_wav, tmp_path):
    wav, _ = stream_wav
    out = tmp_path / "ds"
    with _sim(tiny_run, wav, realtime=True, loop=True) as board:
        board.start()
        p = subprocess.Popen([sys.executable, "-m", "tinykws", "record", "--port", board.port, "--label", "up",
                              "--count", "50", "--countdown", "0.3", "--out", str(out), "--speaker", "x"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             # A suite started in the background inherits SIGINT ignored (POSIX shells do that to
                             # background jobs), and so would the recorder: give it a terminal's default.
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        # Interrupt mid-recording, once the first clip is saved (a fixed delay may still be start-up on a slow machine).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None and not list(out.glob("up/*.wav")):
            time.sleep(0.2)
        time.sleep(0.7)
        p.send_signal(signal.SIGINT)
        # A hang guard, not a time limit: on a loaded machine the recorder can be slow to wind down.
        _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    files = sorted((out / "up").iterdir()) if (out / "up").exists() else []
    assert all(f.suffix == ".wav" and not f.name.startswith(".") for f in files)
    for f in files:
        assert sf.info(f).frames == 16000


def test_flash_up_to_platformio_and_hash_check(tiny_run, tmp_path, monkeypatch, stream_wav):
    from tinykws.board import flash as fl
    from tinykws.errors import UserError

    wav, _ = stream_wav
    import shutil

    tiny_run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    pio = tmp_path / "pio"
    # A stand-in for PlatformIO that shows what it was given, model folder included.
    pio.write_text("#!/bin/sh\necho building \"$@\" with model \"$TINYKWS_MODEL_DIR\"\nexit ${FAKE_PIO_RC:-0}\n")
    pio.chmod(0o755)
    monkeypatch.setattr(fl, "find_pio", lambda: str(pio))
    with _sim(tiny_run, wav, realtime=True) as board:
        board.start()
        lines = []
        res = fl.flash(board="nano33ble", run_path=tiny_run, port=board.port, say=lines.append)
        assert res["command"][-6:] == ["-e", "nano33ble", "-t", "upload", "--upload-port", board.port]
        assert any(l.startswith("building run") for l in lines)
        assert "matches run" in lines[-1]
        monkeypatch.setenv("FAKE_PIO_RC", "1")
        with pytest.raises(UserError, match="double-press"):
            fl.flash(board="nano33ble", run_path=tiny_run, port=board.port, say=lambda s: None)
    # PlatformIO was pointed at the run's model folder, which holds the run's model.
    assert any(l.endswith(f"with model {tiny_run / 'firmware'}") for l in lines)
    assert tiny_run.name in (tiny_run / "firmware" / "kws_model.h").read_text()


def test_flash_detects_a_board_running_another_model(tiny_run, stream_wav, tmp_path):
    from tinykws.board.flash import wait_for_boot
    from tinykws.board.protocol import check_identity
    from tinykws.errors import UserError

    wav, _ = stream_wav
    with _sim(tiny_run, wav) as board:
        board.start()
        boot = wait_for_boot(board.port, 5)
    with pytest.raises(UserError, match="flash it"):
        check_identity(boot, "0" * 64)


def test_missing_port_is_a_clear_error(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tinykws", "monitor", "--port", str(tmp_path / "ttyNONE"), "--duration", "1"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "does not exist" in p.stderr and "Traceback" not in p.stderr
