"""data import: speakers by a stated rule, labels the protocol can carry, the spec's rate and length;
discovery: label folders checked, silence crops at the spec's rate."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tinykws.errors import UserError


def _wav(path, sr=16000, seconds=1.0, amp=0.3):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (amp * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16), sr, subtype="PCM_16")


def _speakers(out):
    import csv

    rows = list(csv.DictReader((out / "manifest.csv").open()))
    return {r["source"]: r["speaker"] for r in rows}


def test_default_rule_reads_speech_commands_names_and_warns_when_every_file_is_its_own(tmp_path):
    from tinykws.data.importer import import_folder

    src = tmp_path / "src"
    for name in ("ab12_nohash_0", "ab12_nohash_1", "cd34_nohash_0"):
        _wav(src / "yes" / f"{name}.wav")
    r = import_folder(src, tmp_path / "a")
    assert r["warnings"] == [] and r["speakers"] == 2
    assert _speakers(tmp_path / "a")["yes/ab12_nohash_1.wav"] == "ab12"

    src2 = tmp_path / "src2"
    for name in ("yes_01", "yes_02", "yes_03"):
        _wav(src2 / "yes" / f"{name}.wav")
    r = import_folder(src2, tmp_path / "b")
    assert r["speakers"] == 3 and len(r["warnings"]) == 1
    assert "every one of the 3 clips is its own speaker" in r["warnings"][0] and "--speaker" in r["warnings"][0]


def test_speaker_regex_and_speaker_folders(tmp_path):
    from tinykws.data.importer import import_folder

    src = tmp_path / "src"
    for name in ("anna-1", "anna-2", "bob-1", "nomatch"):
        _wav(src / "yes" / f"{name}.wav")
    r = import_folder(src, tmp_path / "a", speaker=r"^([a-z]+)-\d+$")
    sp = _speakers(tmp_path / "a")
    assert sp == {"yes/anna-1.wav": "anna", "yes/anna-2.wav": "anna", "yes/bob-1.wav": "bob"}
    assert r["warnings"] == [] and [s["file"] for s in r["skipped"]] == ["yes/nomatch.wav"]
    assert "does not match --speaker" in r["skipped"][0]["reason"]

    src2 = tmp_path / "src2"
    for who, k in (("anna", 1), ("anna", 2), ("bob", 1)):
        _wav(src2 / "yes" / who / f"take{k}.wav")
    _wav(src2 / "yes" / "loose.wav")
    r = import_folder(src2, tmp_path / "b", speaker_from="folder")
    assert sorted(set(_speakers(tmp_path / "b").values())) == ["anna", "bob"]
    assert [s["file"] for s in r["skipped"]] == ["yes/loose.wav"]

    with pytest.raises(UserError, match="exactly one group"):
        import_folder(src, tmp_path / "c", speaker=r"(a)(b)")
    with pytest.raises(UserError, match="not a regular expression"):
        import_folder(src, tmp_path / "c", speaker=r"(")


def test_import_cli_warns_in_one_line(tmp_path):
    src = tmp_path / "src"
    for name in ("yes_01", "yes_02"):
        _wav(src / "yes" / f"{name}.wav")
    p = subprocess.run([sys.executable, "-m", "tinykws", "data", "import", str(src), str(tmp_path / "out")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    warn = [l for l in p.stderr.splitlines() if l.startswith("warning: ")]
    assert len(warn) == 1 and "its own speaker" in warn[0]


def test_import_renames_labels_the_protocol_cannot_carry(tmp_path):
    from tinykws.data.importer import import_folder
    from tinykws.labels import is_label

    src = tmp_path / "src"
    _wav(src / "turn on" / "a_nohash_0.wav")
    _wav(src / "a,b" / "a_nohash_0.wav")
    r = import_folder(src, tmp_path / "out")
    labels = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert labels == ["a_b", "turn_on"] and all(is_label(l) for l in labels)
    assert any("'turn on' imported as 'turn_on'" in n for n in r["notes"])

    _wav(src / "turn_on" / "b_nohash_0.wav")  # now two folders would become one label
    with pytest.raises(UserError, match="would both become label 'turn_on'"):
        import_folder(src, tmp_path / "out2")


def test_import_uses_the_specs_rate_and_clip_length(tmp_path):
    from tinykws.data.importer import import_folder
    from tinykws.spec import FeatureSpec

    src = tmp_path / "src"
    _wav(src / "yes" / "a_nohash_0.wav", seconds=1.7)
    import_folder(src, tmp_path / "out", spec=FeatureSpec(sample_rate=8000, clip_ms=750))
    info = sf.info(tmp_path / "out" / "yes" / "a_nohash_0.wav")
    assert (info.samplerate, info.frames) == (8000, 6000)


def test_discovery_refuses_a_label_folder_the_protocol_cannot_carry(tmp_path):
    from tinykws.data.dataset import discover

    for name in ("yes", "turn on"):
        _wav(tmp_path / "ds" / name / "a_nohash_0.wav")
    with pytest.raises(UserError, match=r"label folder 'turn on': a label may only use letters.*'turn_on'"):
        discover(tmp_path / "ds")
    # As another word's _unknown_ example it never becomes a label: fine.
    assert "turn on" not in discover(tmp_path / "ds", ["yes"]).labels


def test_train_names_the_bad_folder(tmp_path):
    for name in ("yes", "a,b"):
        for k in range(3):
            _wav(tmp_path / "ds" / name / f"s{k}_nohash_0.wav")
    p = subprocess.run([sys.executable, "-m", "tinykws", "train", str(tmp_path / "ds"), "--no-teacher", "--out", str(tmp_path / "runs")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "label folder 'a,b'" in last


def test_silence_crops_follow_the_specs_rate(tmp_path):
    """20 s of noise is 160000 samples at 8 kHz: every crop (offset + one 8000-sample clip) must fit in it,
    and the training crops in its first 80 % (at 16 kHz they would reach twice as far)."""
    from tinykws.data.dataset import discover, load_examples
    from tinykws.spec import FeatureSpec

    spec = FeatureSpec(sample_rate=8000)
    for k in range(30):
        _wav(tmp_path / "ds" / "yes" / f"s{k}_nohash_0.wav", sr=8000)
    noise = np.random.default_rng(0).normal(0, 0.1, 320000)
    (tmp_path / "ds" / "_background_noise_").mkdir()
    sf.write(tmp_path / "ds" / "_background_noise_" / "n.wav", (noise * 32767).astype(np.int16), 16000, subtype="PCM_16")
    ds = discover(tmp_path / "ds", spec=spec, silence_share=3.0)
    crops = [e for e in ds.examples if e.kind == "noise"]
    train = [e.offset for e in crops if e.split == "train"]
    assert len(train) > 10 and max(e.offset for e in crops) + spec.clip_samples <= 160000
    assert max(train) + spec.clip_samples <= 128000 and max(train) > 60000  # spread over the first 80 %, at 8 kHz
    audio, _ = load_examples([e for e in crops if e.gain > 0], spec.sample_rate, spec.clip_samples)
    assert audio.shape[1] == 8000 and np.all(np.abs(audio[:, -100:]).max(axis=1) > 0)  # no zero padding at the end
