"""The demo's synthetic speakers are eSpeak NG voices, and whole voices are held out of training."""

from collections import defaultdict

from tinykws.data.dataset import discover
from tinykws.data.synth import speaker_id, synthesize_dataset, variants


def test_speaker_is_the_voice():
    assert speaker_id("en-us+m3", 120, 30) == speaker_id("en-us+m3", 200, 70) != speaker_id("en-us+m4", 120, 30)


def test_whole_voices_are_held_out(tmp_path):
    # 190 variants over 176 voices: some voices get two variants (other rate and pitch), which must stay together.
    vs = variants(190, seed=0)
    per_voice = defaultdict(set)
    for v, r, p in vs:
        per_voice[v].add((r, p))
    assert any(len(x) > 1 for x in per_voice.values())
    st = synthesize_dataset(tmp_path, ["yes"], n_variants=12, seed=0, noise=False)
    assert len({s for *_, s in st["variants"]}) == 12
    ds = discover(tmp_path, ["yes"], include_unknown=False)
    split_of = defaultdict(set)
    for e in ds.examples:
        split_of[e.speaker].add(e.split)
    assert all(len(s) == 1 for s in split_of.values())  # no voice in two splits
    counts = {s: sum(1 for e in ds.examples if e.split == s) for s in ("train", "validation", "test")}
    assert counts == {"train": 10, "validation": 1, "test": 1}
    assert (tmp_path / "testing_list.txt").read_text().count("\n") == 1
