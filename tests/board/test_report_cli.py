"""``tinykws report`` and ``tinykws monitor`` through the CLI: another model's log, garbage from the port."""

import json
import subprocess
import sys

from tests.board.fakeboard import HASH, FakeBoard


def tinykws(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "tinykws", *args], capture_output=True, text=True, timeout=timeout)


def _log(path, lines):
    path.write_text("# 2026-11-24T10:00:00.000+00:00 monitor /dev/ttyACM0\n"
                    + "".join(f"2026-11-24T10:{i // 600:02d}:{i // 10 % 60:02d}.{i % 10}00+00:00\t{l}\n"
                              for i, l in enumerate(lines)))
    return path


def _boot(model, spec, labels="up,down,_unknown_,_silence_"):
    return (f"BOOT proto=1 board=sim fw=0.1.0 model={model} spec={spec} labels={labels} arena_used=1 arena_size=2 "
            "mic=wav sr=16000 status=ok")


def _infs(n, score="0.400"):
    return [f"INF t_ms={100 * i} feat_us=5000 inf_us=20000 total_us=25000 top=_silence_ score={score}" for i in range(1, n + 1)]


def test_report_refuses_drift_of_another_models_log(tiny_run, tmp_path):
    rep = json.loads((tiny_run / "report.json").read_text())
    log = _log(tmp_path / "other.log", [_boot("cd" * 32, rep["spec"]["sha256"])] + _infs(50, "1.000"))
    p = tinykws("report", str(log), "--run", str(tiny_run))
    assert p.returncode == 2 and "Traceback" not in p.stderr and "DRIFT" not in p.stdout, p.stdout + p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the log's board ran model cdcdcdcdcdcd") and "leave out --run" in err[0]
    assert not (tmp_path / "other_report").exists()  # refused before writing anything


def test_report_judges_drift_on_the_runs_own_model_only(tiny_run, tmp_path):
    rep = json.loads((tiny_run / "report.json").read_text())
    spec = rep["spec"]["sha256"]
    log = _log(tmp_path / "reflashed.log", [_boot("cd" * 32, spec)] + _infs(30, "1.000")
               + [_boot(rep["model"]["sha256"], spec)] + _infs(40))
    p = tinykws("report", str(log), "--run", str(tiny_run), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)["drift"]
    assert d["board_scores"] == 40 and d["left_out"] == 30


# A board speaking protocol between bursts of what a bad cable, a wrong baud rate or another program makes.
GOOD_DETS = [b"DET t_ms=1000 label=yes score=0.900\n", b"DET t_ms=2000 label=no score=0.850\n"]
GARBAGE = [
    b"DET t_ms=1500 label=" + b"x" * 900 + b" score=0.900\n",      # not a label
    b"DET t_ms=1600 label=maybe score=0.900\n",                    # a label, but not one the BOOT named
    b"DET t_ms=1700 label=y\xc3\xa9s score=0.900\n",               # not ASCII
    b"DET t_ms=1800 label=yes score=5.0\n",                        # not a probability
    b"INF t_ms=1900 feat_us=5 inf_us=1e20 total_us=50 top=yes score=0.9\n",
    b"INF t_ms=1900 feat_us=5 inf_us=100000000000000000000 total_us=50 top=yes score=0.9\n",  # past uint32
    b"INF t_ms=1900 feat_us=5 inf_us=10 total_us=50 top=" + b"z" * 900 + b" score=0.9\n",
    b"DET t_ms=1950 label=yes score=0.9" + b"q" * 1200 + b"\n",    # longer than a protocol line
]
GOOD_INF = b"INF t_ms=2100 feat_us=5000 inf_us=20000 total_us=25000 top=yes score=0.900\n"


def test_monitor_and_report_count_the_same_and_ignore_garbage(tmp_path):
    script = GOOD_DETS[0] + b"".join(GARBAGE) + GOOD_DETS[1] + GOOD_INF
    log = tmp_path / "board.log"
    with FakeBoard(after_info=script) as board:
        m = tinykws("monitor", "--port", board.port, "--json", "--duration", "3", "--log", str(log))
    assert m.returncode == 0, m.stderr
    mon = json.loads(m.stdout)
    assert [d["label"] for d in mon["detections"]] == ["yes", "no"]
    assert mon["inferences"] == 1 and mon["latency_us"]["inf"]["max"] == 20000
    assert mon["protocol_errors"] == len(GARBAGE)
    r = tinykws("report", str(log), "--json", "--out", str(tmp_path / "plots"))
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["detections"] == 2 and rep["detections_by_label"] == {"no": 1, "yes": 1}
    assert rep["inferences"] == 1 and rep["protocol_errors"] == mon["protocol_errors"]
    text = tinykws("report", str(log), "--out", str(tmp_path / "plots"))
    assert f"{len(GARBAGE)} protocol errors ignored" in text.stdout, text.stdout
