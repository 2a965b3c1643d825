"""A damaged or incomplete run, and a failing arena search: one line, exit 2, never a traceback."""

import json
import subprocess
import sys

import pytest

from tinykws.errors import UserError


def _run_folder(root, **overrides):
    from tinykws.spec import FeatureSpec

    root.mkdir(parents=True)
    FeatureSpec().save(root / "spec.json")
    files = {
        "labels.json": ["up", "down"],
        "report.json": {"tflm": {"arena_bytes": 1000}, "model": {"output_scale": 0.0039, "output_zero_point": -128},
                        "recognizer": {"threshold": 0.6}},
    }
    files.update(overrides)
    for name, obj in files.items():
        (root / name).write_text(obj if isinstance(obj, str) else json.dumps(obj))
    (root / "model_int8.tflite").write_bytes(b"TFL3")
    return root


def test_a_complete_run_loads(tmp_path):
    from tinykws.run import load_run

    run = load_run(_run_folder(tmp_path / "r"))
    assert run.recognizer.threshold == 0.6 and run.arena_bytes == 1000


@pytest.mark.parametrize("override,needle", [
    ({"report.json": {"model": {"output_scale": 0.1, "output_zero_point": 0}}}, "report.json has no tflm.arena_bytes"),
    ({"report.json": {"tflm": {"arena_bytes": 1}}}, "has no model.output_scale, model.output_zero_point"),
    ({"report.json": [1, 2]}, "report.json must hold a JSON object"),
    ({"labels.json": {"up": 0}}, "labels.json must hold a list"),
    ({"report.json": {"tflm": {"arena_bytes": 1}, "model": {"output_scale": 1, "output_zero_point": 0},
                      "recognizer": {"stride_ms": "100", "future_key": 1}}}, "unusable recognizer settings"),
    ({"report.json": {"tflm": {"arena_bytes": 1}, "model": {"output_scale": 1, "output_zero_point": 0},
                      "recognizer": ["x"]}}, "unusable recognizer settings"),
    ({"spec.json": json.dumps({"sample_rate": 16000, "future_field": 1})}, "unknown feature spec field(s): future_field"),
    ({"spec.json": json.dumps({"sample_rate": "fast"})}, "sample_rate must be an int"),
])
def test_damaged_runs_are_one_line_errors(tmp_path, override, needle):
    from tinykws.run import load_run

    folder = _run_folder(tmp_path / "r", **override)
    with pytest.raises(UserError) as e:
        load_run(folder)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_export_of_a_run_missing_report_keys_exits_2(tmp_path):
    folder = _run_folder(tmp_path / "r", **{"report.json": {"model": {"output_scale": 0.1, "output_zero_point": 0}}})
    p = subprocess.run([sys.executable, "-m", "tinykws", "export", str(folder)], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("error: ") and "tflm.arena_bytes" in p.stderr


def test_report_value_names_a_missing_key(tmp_path):
    from tinykws.run import load_run

    run = load_run(_run_folder(tmp_path / "r"))
    with pytest.raises(UserError, match=r"report.json has no data.labels"):
        run.report_value("data.labels")


def test_arena_search_failures_are_one_line_errors(monkeypatch):
    from tinykws.boardcode import tflm

    def hang(*a, **kw):
        raise subprocess.TimeoutExpired(cmd="probe", timeout=kw.get("timeout"))

    monkeypatch.setattr(tflm.subprocess, "run", hang)
    with pytest.raises(UserError, match="took more than 5 s"):
        tflm.find_min_arena(b"model", timeout_s=5)

    def crash(*a, **kw):
        return subprocess.CompletedProcess(a, -11, stdout="", stderr="Fatal Python error: Segmentation fault")

    monkeypatch.setattr(tflm.subprocess, "run", crash)
    with pytest.raises(UserError, match="could not find the model's TFLM arena size: arena probe failed: Fatal Python"):
        tflm.find_min_arena(b"model")
