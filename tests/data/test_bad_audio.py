"""`data check` and `train` agree on audio that cannot be used: NaN or infinite samples, an absurd sample
rate. check names every such file (past any number of warnings); train names them all in one error."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import soundfile as sf


def _tinykws(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinykws", *args], capture_output=True, text=True, timeout=600)


def _damaged_copy(tone_dataset, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(tone_dataset, ds)
    clip = ds / "up" / "spk000_nohash_0.wav"
    for k in range(25):  # 25 files with a warning (exact duplicates), sorted before the bad ones
        shutil.copy(clip, ds / "up" / f"aaa_nohash_{k}.wav")
    y, sr = sf.read(clip, dtype="float32")
    nan, inf = y.copy(), y.copy()
    nan[100] = np.nan
    inf[200] = np.inf
    sf.write(ds / "up" / "zz-nan_nohash_0.wav", nan, sr, subtype="FLOAT")
    sf.write(ds / "down" / "zz-inf_nohash_0.wav", inf, sr, subtype="FLOAT")
    sf.write(ds / "down" / "zz-slow_nohash_0.wav", (y[:50] * 32767).astype(np.int16), 1, subtype="PCM_16")
    return ds, ["up/zz-nan_nohash_0.wav", "down/zz-inf_nohash_0.wav", "down/zz-slow_nohash_0.wav"]


def test_check_and_train_name_every_bad_file(tone_dataset, tmp_path):
    ds, bad = _damaged_copy(tone_dataset, tmp_path)

    r = _tinykws("data", "check", str(ds), "--strict")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "files with errors: 3," in r.stdout
    errors = [l for l in r.stdout.splitlines() if l.startswith("ERROR ")]
    assert sorted(l.split(":")[0][len("ERROR "):] for l in errors) == sorted(bad)
    assert "DC offset" not in r.stdout
    assert any("NaN or infinite samples" in l for l in errors if "zz-inf" in l)
    assert any("sample rate 1 Hz is outside 4000-192000 Hz" in l for l in errors if "zz-slow" in l)

    r = _tinykws("train", str(ds), "--words", "up,down", "--epochs", "1", "--out", str(tmp_path / "runs"))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    head = [i for i, l in enumerate(lines) if l.startswith("error: ")]
    assert len(head) == 1 and lines[head[0]].startswith("error: 3 audio files cannot be used"), r.stderr
    named = lines[head[0] + 1 :]
    assert len(named) == 3 and all(any(b in l for l in named) for b in bad), r.stderr
    assert not any((tmp_path / "runs").glob("*/model.keras"))
