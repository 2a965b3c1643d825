"""Every trained run is judged on streams (docs/evaluation.md) and carries its operating point to the firmware."""

import json
import re
import shutil
import subprocess
import sys

from click.testing import CliRunner


def test_run_has_the_streaming_section(tiny_run):
    r = json.loads((tiny_run / "report.json").read_text())
    s = r["streaming"]
    op = s["operating_point"]
    assert set(op) >= {"threshold", "average_window_ms", "min_count", "suppression_ms", "stride_ms", "target_fa_per_hour",
                       "chosen_on"}
    assert op["chosen_on"] == "quiet validation stream" and op["target_fa_per_hour"] == 1.0
    assert op["average_window_ms"] <= 1000 and op["suppression_ms"] <= 1500
    for split in ("validation", "test"):
        for cond in ("quiet", "noisy"):
            x = s[split][cond]
            assert set(x) >= {"hit_rate", "fa_per_hour", "keywords", "hours", "per_keyword"}
            assert 0 <= x["hit_rate"] <= 1 and x["keywords"] == sum(v["keywords"] for v in x["per_keyword"].values())
            assert sum(c["false_accepts"] for c in x["false_accepts_by_cause"]) == x["false_accepts"]
    # The run's recognizer is the operating point, and the firmware header says the same.
    assert {k: r["recognizer"][k] for k in ("threshold", "stride_ms", "average_window_ms", "min_count", "suppression_ms")} == \
        {k: op[k] for k in ("threshold", "stride_ms", "average_window_ms", "min_count", "suppression_ms")}
    h = (tiny_run / "firmware" / "kws_model.h").read_text() + (tiny_run / "firmware" / "kws_feature_spec.h").read_text()
    m = re.search(r"#define KWS_RECOGNIZER_STRIDE_MS (\d+)", h)
    assert m and int(m.group(1)) == op["stride_ms"]
    # The stride is one the board sustains.
    from tinykws.export.latency import shortest_sustainable_stride
    from tinykws.spec import FeatureSpec

    shortest = shortest_sustainable_stride((tiny_run / "model_int8.tflite").read_bytes(), FeatureSpec.load(tiny_run / "spec.json"),
                                           "nano33ble", engine="native")
    assert op["stride_ms"] in (shortest, 2 * shortest)
    assert s["drift"]["n"] == sum(c for _, c in s["drift"]["score_milli_counts"]) > 0
    assert (tiny_run / "det.png").is_file()
    assert "On continuous audio" in (tiny_run / "report.md").read_text()


def test_runs_lists_stream_figures(tiny_run):
    from tinykws.cli.runs import runs

    res = CliRunner().invoke(runs, ["--dir", str(tiny_run.parent), "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.output)[0]
    r = json.loads((tiny_run / "report.json").read_text())
    assert row["test_quiet_hit_rate"] == r["streaming"]["test"]["quiet"]["hit_rate"]
    assert row["test_noisy_fa_per_hour"] == r["streaming"]["test"]["noisy"]["fa_per_hour"]


def test_report_md_says_where_false_accepts_came_from(tiny_run):
    from tinykws.evaluate.report import FA_CAUSE_ROWS, render_report_md

    r = json.loads((tiny_run / "report.json").read_text())
    causes = [{"cause": "other word", "source": "three/b1.wav", "detected": "right", "false_accepts": 8}]
    causes += [{"cause": "background", "source": "", "detected": "no", "false_accepts": 1}] * FA_CAUSE_ROWS
    r["streaming"]["test"]["quiet"]["false_accepts_by_cause"] = causes
    md = render_report_md(r)
    assert "| other word | three/b1.wav | right | 8 |" in md
    assert "| 1 more | | | 1 |" in md  # rows past the table's length are summed


def test_a_run_from_before_the_protocol_still_reads(tiny_run, tmp_path):
    from tinykws.cli.runs import runs
    from tinykws.evaluate.report import render_report_md
    from tinykws.run import load_run

    old = shutil.copytree(tiny_run, tmp_path / "runs" / tiny_run.name)
    r = json.loads((old / "report.json").read_text())
    r["streaming"] = {"hours": 0.05, "hit_rate": 0.6, "false_accepts_per_hour": 120.0, "target_fa_per_hour": 5.0,
                      "chosen": {"threshold": 0.95, "false_reject_rate": 0.9, "false_accepts_per_hour": 0.0, "hits": 2}}
    (old / "report.json").write_text(json.dumps(r))
    load_run(old)
    res = CliRunner().invoke(runs, ["--dir", str(old.parent), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)[0]["test_quiet_hit_rate"] is None
    assert "measures it again" in render_report_md(r)


def test_evaluate_streaming_at_the_runs_operating_point(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    before = (run / "report.json").read_text()
    p = subprocess.run([sys.executable, "-m", "tinykws", "evaluate", str(run), "--streaming", "--stream-minutes", "0.3", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    stored = json.loads(before)["streaming"]["operating_point"]
    assert out["operating_point"] == stored  # the run's own operating point, as chosen at training
    assert out["test"]["quiet"]["hours"] == 0.005
    assert (run / "report.json").read_text() == before  # without a target the run is not changed


def test_evaluate_streaming_errors_are_one_line(tiny_run, tmp_path, capsys):
    import pytest

    from tinykws.cli.main import main

    (tmp_path / "empty").mkdir()
    for args, msg in ((["--streaming", "--noise", str(tmp_path / "empty")], "no audio files"),
                      (["--noise", str(tmp_path / "empty")], "needs --streaming"),
                      (["--streaming", str(tmp_path / "nowhere")], "dataset not found")):
        with pytest.raises(SystemExit) as e:
            main(["evaluate", str(tiny_run), *args, "--stream-minutes", "0.2"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and msg in err and len(err.strip().splitlines()) == 1, err
