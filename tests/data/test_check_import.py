"""`data check` and `data import` on a corpus of broken inputs made here; nothing is ever modified."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tinykws.data.check import check_dataset
from tinykws.data.importer import import_folder

SR = 16000


def speech_like(n=SR, seed=0, amp=0.3):
    rng = np.random.default_rng(seed)
    env = np.zeros(n)
    env[n // 4 : 3 * n // 4] = np.hanning(n // 2)
    return (rng.normal(0, amp, n) * env).astype(np.float32)


@pytest.fixture()
def broken(tmp_path):
    d = tmp_path / "ds"
    (d / "yes").mkdir(parents=True)
    w = lambda name, y, sr=SR, sub="PCM_16": sf.write(d / "yes" / name, y, sr, subtype=sub)  # noqa: E731
    w("good_nohash_0.wav", speech_like())
    (d / "yes" / "empty_nohash_0.wav").write_bytes(b"")
    (d / "yes" / "text_nohash_0.wav").write_text("not audio at all")
    good = (d / "yes" / "good_nohash_0.wav").read_bytes()
    (d / "yes" / "trunc_nohash_0.wav").write_bytes(good[:30])
    w("u8_nohash_0.wav", speech_like(seed=1), sub="PCM_U8")
    w("f32_nohash_0.wav", speech_like(seed=2), sub="FLOAT")
    w("stereo_nohash_0.wav", np.stack([speech_like(seed=3)] * 2, axis=1))
    w("hi_nohash_0.wav", speech_like(44100, seed=4), sr=44100)
    w("long_nohash_0.wav", speech_like(3 * SR, seed=5))
    w("short_nohash_0.wav", speech_like(SR // 5, seed=6))
    w("zero_nohash_0.wav", np.zeros(SR, np.float32))
    w("square_nohash_0.wav", np.where(np.arange(SR) % 40 < 20, 1.0, -1.0).astype(np.float32))
    w("dup_nohash_0.wav", speech_like())
    return d


def snapshot(d):
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in d.rglob("*") if p.is_file()}


def test_every_broken_file_is_reported_and_nothing_changes(broken):
    before = snapshot(broken)
    r = check_dataset(broken)
    assert snapshot(broken) == before
    found = {i["file"].split("/")[1].split("_nohash")[0]: i for i in r["issues"]}
    assert found["empty"]["errors"] == ["empty file"]
    assert found["text"]["errors"][0].startswith("unreadable")
    assert found["trunc"]["errors"][0].startswith("unreadable") or found["trunc"]["errors"] == ["no samples"]
    assert any("PCM_U8" in w for w in found["u8"]["warnings"])
    assert any("FLOAT" in w for w in found["f32"]["warnings"])
    assert any("2 channels" in w for w in found["stereo"]["warnings"])
    assert any("44100" in w for w in found["hi"]["warnings"])
    assert any("length 3.00 s" in w for w in found["long"]["warnings"])
    assert any("length 0.20 s" in w for w in found["short"]["warnings"])
    assert any("near-silent" in w for w in found["zero"]["warnings"])
    assert any("clipped" in w for w in found["square"]["warnings"])
    assert any("exact duplicate" in w for w in found["dup"]["warnings"])
    assert all("duplicate" in w for w in found["good"]["warnings"]) and not found["good"]["errors"]
    assert r["files_with_errors"] == 3


def test_cli_json_strict_and_hash(broken, tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "tinykws", "data", "check", str(broken), *a],  # noqa: E731
                                    capture_output=True, text=True)
    p = run("--json")
    assert p.returncode == 0
    d = json.loads(p.stdout)
    from tinykws.data.dataset import dataset_hash
    from tinykws.io import sha1_file

    files = sorted(f for f in broken.rglob("*.wav"))
    assert d["dataset_hash"] == dataset_hash([(f.relative_to(broken).as_posix(), sha1_file(f)) for f in files])
    p = run("--strict", "--plot", str(tmp_path / "overview.png"))
    assert p.returncode == 1 and "dataset hash:" in p.stdout
    assert (tmp_path / "overview.png").stat().st_size > 1000
    assert not list(broken.rglob("*.png"))


def test_import_converts_and_lists_skips(broken, tmp_path):
    (broken / "yes" / "notes.txt").write_text("hello")
    out = tmp_path / "out"
    r = import_folder(broken, out)
    skipped = {s["file"] for s in r["skipped"]}
    assert {"yes/empty_nohash_0.wav", "yes/text_nohash_0.wav", "yes/notes.txt"} <= skipped
    assert r["imported"] >= 9
    for p in (out / "yes").glob("*.wav"):
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (SR, 1, SR, "PCM_16")
    # Never overwrites: a second import adds new names.
    before = snapshot(out / "yes")
    r2 = import_folder(broken, out)
    assert all(snapshot(out / "yes")[p] == v for p, v in before.items())
    assert len(list((out / "yes").glob("*.wav"))) == 2 * r["imported"]
    assert (out / "manifest.csv").read_text().startswith("path,label,speaker,source")


def test_check_on_real_speech(shared_speech):
    r = check_dataset(shared_speech)
    from tinykws.data.dataset import discover

    assert r["files"] == 1696 and r["files_with_errors"] == 0
    assert r["dataset_hash"] == discover(shared_speech, ["yes"]).hash


def test_near_duplicates_are_found_but_other_takes_are_not(tmp_path):
    d = tmp_path / "nd" / "yes"
    d.mkdir(parents=True)
    y = speech_like(seed=10)
    sf.write(d / "a_nohash_0.wav", y, SR, subtype="PCM_16")
    # The same take a little louder with a faint hiss: a near-duplicate, not byte-identical.
    sf.write(d / "b_nohash_0.wav", y * 1.1 + np.random.default_rng(1).normal(0, 1e-4, SR), SR, subtype="PCM_16")
    # Another take: same loudness envelope, a voiced (harmonic) spectrum instead of a hissy one.
    t = np.arange(SR) / SR
    voiced = sum(np.sin(2 * np.pi * 140 * h * t) / h for h in range(1, 20)) * np.abs(speech_like(seed=11)).max()
    env = np.zeros(SR)
    env[SR // 4 : 3 * SR // 4] = np.hanning(SR // 2)
    sf.write(d / "c_nohash_0.wav", (0.2 * voiced * env).astype(np.float32), SR, subtype="PCM_16")
    found = {i["file"]: i["warnings"] for i in check_dataset(tmp_path / "nd")["issues"]}
    assert any("near-duplicate of yes/b_nohash_0.wav" in w for w in found["yes/a_nohash_0.wav"])
    assert "yes/c_nohash_0.wav" not in found
