"""The CLI's contract with users: one-line errors, non-zero exits, no tracebacks."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf


def tinykws(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "tinykws", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def assert_user_error(p, needle):
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    err = [l for l in p.stderr.strip().splitlines() if l.strip()]
    assert err and err[-1].startswith("error: "), p.stderr
    assert needle in err[-1]


def test_help_lists_commands():
    p = tinykws("--help")
    assert p.returncode == 0
    for cmd in ("demo", "train", "evaluate", "export", "runs"):
        assert cmd in p.stdout


def test_train_missing_dataset(tmp_path):
    assert_user_error(tinykws("train", str(tmp_path / "nope"), "--out", str(tmp_path / "runs")), "dataset not found")


def test_train_empty_label_folder(tmp_path):
    (tmp_path / "ds" / "yes").mkdir(parents=True)
    assert_user_error(tinykws("train", str(tmp_path / "ds"), "--words", "yes", "--out", str(tmp_path / "r")), "no audio files")


def test_train_unknown_word(tone_dataset, tmp_path):
    assert_user_error(tinykws("train", str(tone_dataset), "--words", "up,sideways", "--out", str(tmp_path / "r")), "sideways")


def test_train_unreadable_wav_names_the_file(tone_dataset, tmp_path):
    import shutil

    d = tmp_path / "ds"
    shutil.copytree(tone_dataset, d)
    bad = d / "up" / "zzz_nohash_0.wav"
    bad.write_text("this is not audio")
    p = tinykws("train", str(d), "--words", "up,down", "--epochs", "1", "--no-teacher", "--out", str(tmp_path / "r"))
    assert_user_error(p, "zzz_nohash_0.wav")
    assert not (tmp_path / "r").exists() or not any(x.name.startswith(".") for x in (tmp_path / "r").iterdir())


def test_export_without_runs(tmp_path):
    assert_user_error(tinykws("export", "--runs-dir", str(tmp_path / "none")), "no runs")


def test_evaluate_bad_run(tmp_path):
    assert_user_error(tinykws("evaluate", str(tmp_path / "run"), str(tmp_path)), "run not found")


def test_evaluate_on_another_dataset_json(tiny_run, tone_dataset):
    p = tinykws("evaluate", str(tiny_run), str(tone_dataset), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert set(d["accuracy"]) >= {"float", "int8", "per_class"}
    assert d["n"] > 100 and d["accuracy"]["int8"] > 0.6


def test_odd_formats_are_converted_and_said(tone_dataset, tmp_path):
    """Stereo, 44.1 kHz, 8-bit, float and 3 s clips load (resampled / mixed / cropped) with notes."""
    from tinykws.data.audio import fit_length, load_audio

    rng = np.random.default_rng(0)
    cases = {
        "stereo.wav": (rng.normal(0, 0.1, (16000, 2)), 16000, "PCM_16"),
        "hi.wav": (rng.normal(0, 0.1, 44100), 44100, "PCM_16"),
        "u8.wav": (rng.normal(0, 0.1, 16000), 16000, "PCM_U8"),
        "f32.wav": (rng.normal(0, 0.1, 16000), 16000, "FLOAT"),
        "long.wav": (rng.normal(0, 0.1, 48000), 16000, "PCM_16"),
    }
    for name, (y, sr, sub) in cases.items():
        sf.write(tmp_path / name, y, sr, subtype=sub)
        a = load_audio(tmp_path / name)
        y2, note = fit_length(a.y, 16000)
        assert y2.shape == (16000,) and y2.dtype == np.float32
        if name == "stereo.wav":
            assert any("mono" in n for n in a.notes)
        if name == "hi.wav":
            assert any("resampled 44100" in n for n in a.notes)
        if name in ("u8.wav", "f32.wav"):
            assert any("sample format" in n for n in a.notes)
        if name == "long.wav":
            assert note.startswith("cropped")


def test_runs_table_and_json(tiny_run):
    p = tinykws("runs", "--dir", str(tiny_run.parent), "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["run"] for r in rows] == [tiny_run.name]
    assert rows[0]["arch"] == "ds-cnn-xs"
    p = tinykws("runs", "--dir", str(tiny_run.parent))
    assert tiny_run.name[:15] in p.stdout
