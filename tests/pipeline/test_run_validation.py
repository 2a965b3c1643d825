"""One check of a run folder for every command (issue 18, rows 3, 4 and 9).

A run whose files are not the ones ``report.json`` recorded, or whose numbers are not numbers, is one
``error:`` line in export, sim and evaluate; ``tinykws runs`` names it damaged and lists the others.
"""

import json
import shutil
import subprocess
import sys

import pytest


def tinykws(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tinykws", *args], capture_output=True, text=True, timeout=300, env=env)


def assert_user_error(p, needle):
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    err = [l for l in p.stderr.strip().splitlines() if l.strip()]
    assert err and err[-1].startswith("error: ") and needle in err[-1], p.stderr


def test_a_tampered_model_is_not_exported(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    tfl = bytearray((run / "model_int8.tflite").read_bytes())
    tfl[len(tfl) // 2 : len(tfl) // 2 + 64] = bytes(b ^ 0x5A for b in tfl[len(tfl) // 2 : len(tfl) // 2 + 64])
    (run / "model_int8.tflite").write_bytes(bytes(tfl))
    before = sorted(p.name for p in (run / "firmware").iterdir())
    p = tinykws("export", str(run), "--board", "nano33ble")
    assert_user_error(p, "model_int8.tflite is not the model report.json recorded")
    assert sorted(p.name for p in (run / "firmware").iterdir()) == before


def test_a_truncated_model_is_one_line_in_export_sim_and_evaluate(tiny_run, tone_dataset, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    tfl = (run / "model_int8.tflite").read_bytes()
    (run / "model_int8.tflite").write_bytes(tfl[: len(tfl) // 3])
    for args in (["export", str(run)], ["sim", "--run", str(run), "--duration", "1", "--fast"],
                 ["evaluate", str(run), str(tone_dataset)]):
        assert_user_error(tinykws(*args), "model_int8.tflite is")


@pytest.mark.parametrize("recorded", [True, False], ids=["hash-recorded", "older-run-without-hash"])
def test_a_truncated_keras_model_is_one_line_in_evaluate(tiny_run, tone_dataset, tmp_path, recorded):
    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    keras = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(keras[:3000])
    if not recorded:
        r = json.loads((run / "report.json").read_text())
        del r["model"]["keras_sha256"]
        (run / "report.json").write_text(json.dumps(r))
    needle = "model.keras is not the model report.json recorded" if recorded else "model.keras cannot be read"
    assert_user_error(tinykws("evaluate", str(run), str(tone_dataset)), needle)


def _runs_folder(tiny_run, tmp_path):
    """A runs folder with the good run between two damaged ones."""
    runs = tmp_path / "runs"
    good = shutil.copytree(tiny_run, runs / "20200101-000002-good")
    lots = shutil.copytree(tiny_run, runs / "20200101-000001-lots")
    r = json.loads((lots / "report.json").read_text())
    r["tflm"]["arena_bytes"] = "lots"
    (lots / "report.json").write_text(json.dumps(r))
    cut = shutil.copytree(tiny_run, runs / "20200101-000003-cut")
    (cut / "model_int8.tflite").write_bytes((cut / "model_int8.tflite").read_bytes()[:100])
    return runs, good


def test_runs_lists_damaged_runs_and_goes_on(tiny_run, tmp_path):
    runs, good = _runs_folder(tiny_run, tmp_path)
    p = tinykws("runs", "--dir", str(runs), "--json")
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    rows = {r["run"]: r for r in json.loads(p.stdout)}
    assert list(rows) == ["20200101-000001-lots", "20200101-000002-good", "20200101-000003-cut"]
    assert "tflm.arena_bytes must be an integer" in rows["20200101-000001-lots"]["damaged"]
    assert "model_int8.tflite is 100 bytes" in rows["20200101-000003-cut"]["damaged"]
    assert rows["20200101-000002-good"]["arch"] == "ds-cnn-xs" and "damaged" not in rows["20200101-000002-good"]
    p = tinykws("runs", "--dir", str(runs))
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert p.stdout.count("DAMAGED") == 2 and "ds-cnn-xs" in p.stdout


def test_runs_in_a_pipe_fits_80_columns(tiny_run, tmp_path):
    import os

    runs, good = _runs_folder(tiny_run, tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    p = tinykws("runs", "--dir", str(runs), env=env)  # stdout is a pipe, as in `tinykws runs | cat`
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines and max(len(l) for l in lines) <= 80, p.stdout
    assert "…" not in p.stdout
    r = json.loads((good / "report.json").read_text())
    block = p.stdout[p.stdout.index(good.name):]
    # Every figure of the good run is there in full, not cut.
    assert f"{r['model']['tflite_bytes']:,} B" in block and f"{r['tflm']['arena_bytes']:,} B" in block
    assert r["data"]["dataset_hash"][:12] in block and "ds-cnn-xs" in block
