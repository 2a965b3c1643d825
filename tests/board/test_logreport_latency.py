"""Monitor logs: measured inference time against the estimate, and a warning when the board skips inferences."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tinykws.board.logreport import latency_check, read_log, skipped_recently, summarize
from tinykws.board.monitor import MonitorState, live_view
from tinykws.board.protocol import parse_line
from tinykws.export.carray import parse_c_array
from tinykws.export.latency import estimate_latency
from tinykws.spec import FeatureSpec

REPO = Path(__file__).resolve().parents[2]
SHIPPED = json.loads((REPO / "firmware" / "model" / "model.json").read_text())


def _boot(model=SHIPPED["model_sha256"], board="nano33ble", engine="native"):
    tail = f" engine={engine} weights_crc={SHIPPED['native']['weights_crc32']}" if engine else ""
    return (f"BOOT proto=1 board={board} fw=0.1.0 model={model} spec={SHIPPED['spec_sha256']} labels=yes,no "
            f"arena_used=24000 arena_size=28256 mic=pdm sr=16000 status=ok{tail}")


def _inf(t_ms, inf_us, feat_us=6000):
    return f"INF t_ms={t_ms} feat_us={feat_us} inf_us={inf_us} total_us={feat_us + inf_us} top=yes score=0.5"


def _stat(t_ms, inferences, skipped):
    return (f"STAT t_ms={t_ms} inferences={inferences} rate_hz=5.0 detections=0 dropped=0 overflows=0 mode=infer "
            f"skipped={skipped} tx_dropped=0")


def _log(tmp_path, lines):
    p = tmp_path / "board.log"
    p.write_text("# 2026-11-24T10:00:00.000+00:00 monitor /dev/ttyACM0\n"
                 + "".join(f"2026-11-24T10:00:{i // 10:02d}.{i % 10}00+00:00\t{l}\n" for i, l in enumerate(lines)))
    return p


@pytest.fixture(autouse=True)
def _no_runs_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ is looked up relative to the working folder: keep the real one out


def test_measured_against_the_estimate_for_the_shipped_model(tmp_path):
    log = _log(tmp_path, [_boot()] + [_inf(100 * i, 190_000) for i in range(1, 20)] + [_stat(5000, 25, 0)])
    s = summarize(read_log(log))
    c = s["latency_check"]
    est = estimate_latency(parse_c_array((REPO / "firmware/model/kws_model.cc").read_text()), FeatureSpec(), 100,
                           "nano33ble", "native")
    assert c["board"] == "nano33ble" and c["engine"] == "native" and c["stride_ms"] == 100
    assert c["model_from"].endswith("firmware/model")
    assert c["measured_inf_ms"] == 190.0 and c["estimate"]["inference_ms"] == pytest.approx(est.inference_ms, abs=0.01)
    assert c["lines"][0] == (f"inference p50 190.0 ms measured vs {est.inference_ms:.1f} ms estimated for nano33ble with "
                             f"native ({190 / est.inference_ms:.2f}x); features + inference 196.0 ms of the 100 ms stride (196 %)")
    assert c["skipped"] == {"count": 0, "seconds": 5.0} and len(c["lines"]) == 1  # nothing skipped: no warning


def test_skipped_inferences_are_a_warning_that_says_why(tmp_path):
    lines = [_boot(), _stat(5000, 20, 5)] + [_inf(200 * i, 180_000) for i in range(1, 10)] + [_stat(10_000, 33, 17)]
    c = summarize(read_log(_log(tmp_path, lines)))["latency_check"]
    assert c["skipped"] == {"count": 12, "seconds": 5.0}
    assert c["lines"][-1] == "board skipped 12 inferences in the last 5 s: inference 180 ms > stride 100 ms"


def test_unknown_model_still_warns_with_the_stride_from_stat(tmp_path):
    # No estimate without the model; the stride comes from the STAT counters: 5 s / (13 run + 12 skipped) = 200 ms.
    lines = [_boot(model="ab" * 32), _stat(5000, 10, 0)] + [_inf(250 * i, 250_000) for i in range(1, 9)] \
        + [_stat(10_000, 23, 12)]
    c = summarize(read_log(_log(tmp_path, lines)))["latency_check"]
    assert c["lines"][0].startswith("no estimate: model abababababab is not in the runs folder")
    assert c["stride_ms"] == 200
    assert c["lines"][-1] == "board skipped 12 inferences in the last 5 s: inference 250 ms > stride 200 ms"


@pytest.mark.parametrize("engine", ["tflm", None], ids=["engine=tflm", "no engine field"])
def test_a_log_from_an_old_tflm_build_is_still_reported(tmp_path, engine):
    # Before the firmware became native-only a board could run TFLM (and before the engine field, ran only
    # TFLM): `tinykws report` still reads its log, says why there is no estimate, and still warns of skips.
    lines = [_boot(engine=engine), _stat(5000, 20, 5)] + [_inf(250 * i, 250_000) for i in range(1, 10)] \
        + [_stat(10_000, 33, 17)]
    log = _log(tmp_path, lines)
    p = subprocess.run([sys.executable, "-m", "tinykws", "report", str(log), "--json", "--out", str(tmp_path / "plots")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    c = json.loads(p.stdout)["latency_check"]
    assert c["engine"] == "tflm" and c["model_from"] is None and "estimate" not in c
    assert c["lines"][0] == ("no estimate for the tflm engine: the firmware now runs only the native engine "
                             "(flash the board again to compare)")
    # The stride from the STAT counters: 5 s / (13 run + 12 skipped) = 200 ms.
    assert c["skipped"] == {"count": 12, "seconds": 5.0} and c["stride_ms"] == 200
    assert c["lines"][-1] == "board skipped 12 inferences in the last 5 s: inference 250 ms > stride 200 ms"


def test_unknown_board_and_older_firmware_without_skipped():
    boot = parse_line(_boot(board="sim"))
    stat = parse_line("STAT t_ms=5000 inferences=50 rate_hz=10.0 detections=0 dropped=0 overflows=0 mode=infer")
    c = latency_check(boot, [1000], [2000], [stat])
    assert c["lines"] == ["no estimate for board 'sim' (estimates exist for nano33ble, esp32dev)"]
    assert "skipped" not in c and skipped_recently([stat]) is None


def test_a_reset_restarts_the_skip_count():
    # The counter restarts at boot: a smaller value after a reset is not a negative count.
    a, b = parse_line(_stat(60_000, 500, 40)), parse_line(_stat(5000, 20, 3))
    assert skipped_recently([a, b]) == (3, 5.0, 20)


def test_monitor_shows_the_same_lines_live(tmp_path):
    state = MonitorState()
    for l in [_boot(), _stat(5000, 20, 5)] + [_inf(200 * i, 180_000) for i in range(1, 10)] + [_stat(10_000, 33, 17)]:
        state.add(parse_line(l))
    s = state.summary()
    lines = s["latency_check"]["lines"]
    assert lines[0].startswith("inference p50 180.0 ms measured vs ") and "estimated for nano33ble with native" in lines[0]
    assert lines[-1] == "board skipped 12 inferences in the last 5 s: inference 180 ms > stride 100 ms"
    assert lines[-1] in live_view(state).caption
    json.dumps(s)  # the --json summary stays serialisable
    # A new BOOT (the board reset) forgets the previous run's STAT lines.
    state.add(parse_line(_boot()))
    assert state.stats == [] and "skipped" not in state.summary()["latency_check"]


def test_monitor_says_when_the_watchdog_reset_the_board():
    from tinykws.board.monitor import WATCHDOG_NOTE

    state = MonitorState()
    state.add(parse_line(_boot() + " reset=power"))
    assert state.watchdog_resets == 0 and state.summary()["reset_reason"] == "power" and not state.notices
    state.add(parse_line(_boot() + " reset=wdt"))
    s = state.summary()
    assert s["resets"] == 1 and s["watchdog_resets"] == 1 and s["reset_reason"] == "wdt"
    caption = live_view(state).caption
    assert "resets 1 (last: wdt)" in caption and WATCHDOG_NOTE in caption
    # INFO repeats the reason of the boot it answers from: not a second reset.
    state.add(parse_line(_boot().replace("BOOT", "INFO", 1) + " reset=wdt"))
    assert state.summary()["watchdog_resets"] == 1
    # Older firmware says nothing: no reason, no notice.
    assert parse_line(_boot()).reset is None


def test_report_counts_watchdog_resets(tmp_path):
    lines = [_boot() + " reset=power", _inf(100, 60_000), _boot() + " reset=wdt", _inf(100, 60_000),
             _boot().replace("BOOT", "INFO", 1) + " reset=wdt", _stat(5000, 25, 0)]
    log = _log(tmp_path, lines)
    s = summarize(read_log(log))
    assert s["starts"] == 2 and s["watchdog_resets"] == 1
    p = subprocess.run([sys.executable, "-m", "tinykws", "report", str(log)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "WATCHDOG: the board was reset by its watchdog 1 time(s) of 2 start(s)" in p.stdout
