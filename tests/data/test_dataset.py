"""Discovery, speaker-disjoint and stable splits, manifest and dataset hash."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from tinykws.data.dataset import discover, speaker_of, split_of_speaker
from tinykws.errors import UserError


def _write(p, seconds=1.0, sr=16000, seed=0):
    p.parent.mkdir(parents=True, exist_ok=True)
    y = np.random.default_rng(seed).normal(0, 0.1, int(seconds * sr))
    sf.write(p, (y * 32767).astype(np.int16), sr, subtype="PCM_16")


def test_speaker_id():
    from pathlib import Path

    assert speaker_of(Path("yes/0a7c2a8d_nohash_1.wav")) == "0a7c2a8d"
    assert speaker_of(Path("yes/my_take.wav")) == "my_take"


def test_split_is_speaker_disjoint_and_stable(tone_dataset, tmp_path):
    ds = discover(tone_dataset, ["up", "down"])
    clips = [e for e in ds.examples if e.kind == "clip"]
    by_split = {s: {e.speaker for e in clips if e.split == s} for s in ("train", "validation", "test")}
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["validation"]
    assert not by_split["validation"] & by_split["test"]
    # Adding new speakers never moves old files.
    copy = tmp_path / "more"
    shutil.copytree(tone_dataset, copy)
    for i in range(10):
        _write(copy / "up" / f"newspk{i}_nohash_0.wav", seed=i)
    ds2 = discover(copy, ["up", "down"])
    before = {e.rel: e.split for e in clips}
    after = {e.rel: e.split for e in ds2.examples if e.kind == "clip"}
    assert all(after[r] == s for r, s in before.items() if r in after)
    assert ds2.hash != ds.hash


def test_split_fractions_roughly_80_10_10():
    n = 5000
    got = [split_of_speaker(f"spk{i}") for i in range(n)]
    assert abs(got.count("train") / n - 0.8) < 0.03
    assert abs(got.count("test") / n - 0.1) < 0.02


def test_labels_unknown_and_silence(tone_dataset):
    ds = discover(tone_dataset, ["up", "down"])
    assert ds.labels == ["up", "down", "_unknown_", "_silence_"]
    c = ds.counts()
    kw_mean = (c["train"]["up"] + c["train"]["down"]) / 2
    assert abs(c["train"]["_unknown_"] - kw_mean) <= 0.25 * kw_mean + 1
    assert abs(c["train"]["_silence_"] - kw_mean) <= 1
    # Silence crops come from disjoint parts of the noise by split.
    offs = {s: [e.offset for e in ds.examples if e.kind == "noise" and e.split == s] for s in ("train", "test")}
    assert max(offs["train"]) + 16000 <= min(offs["test"])
    ds_all = discover(tone_dataset)
    assert ds_all.labels == ["down", "flat", "up", "_silence_"]


def test_speech_commands_lists_are_honoured(tone_dataset, tmp_path):
    d = tmp_path / "sc"
    shutil.copytree(tone_dataset, d)
    some = sorted(p.relative_to(d).as_posix() for p in (d / "up").glob("*.wav"))[:4]
    (d / "testing_list.txt").write_text("\n".join(some[:2]) + "\n")
    (d / "validation_list.txt").write_text("\n".join(some[2:]) + "\n")
    ds = discover(d, ["up", "down"])
    split = {e.rel: e.split for e in ds.examples}
    assert [split[r] for r in some] == ["test", "test", "validation", "validation"]
    assert sum(1 for e in ds.examples if e.kind == "clip" and e.split == "test" and e.label != "_unknown_") == 2


def test_manifest_lists_every_example_with_sha1(tone_dataset):
    ds = discover(tone_dataset, ["up", "down"])
    lines = ds.manifest_csv().strip().splitlines()
    assert lines[0] == "path,label,source,speaker,split,sha1,offset,gain"
    assert len(lines) == len(ds.examples) + 1


@pytest.mark.parametrize("case, message", [
    ("missing", "dataset not found: {root}"),
    ("file", "dataset must be a folder: {root}"),
    ("empty_label", "{root}/yes: label folder has no audio files"),
    ("no_labels", "{root}: no label folders (expected DATASET/<label>/*.wav)"),
    ("bad_word", "{root}: no folder for word(s) nope; found yes"),
])
def test_bad_datasets_are_clear_user_errors(tmp_path, case, message):
    root = tmp_path / "ds"
    words = ["yes"]
    if case == "missing":
        pass
    elif case == "file":
        root.write_text("x")
    elif case == "empty_label":
        (root / "yes").mkdir(parents=True)
    elif case == "no_labels":
        root.mkdir()
    elif case == "bad_word":
        _write(root / "yes" / "a_nohash_0.wav")
        words = ["yes", "nope"]
    with pytest.raises(UserError) as e:
        discover(root, words)
    assert str(e.value) == message.format(root=root)
