"""A folder of one word only trains: tinykws adds other words and background (tinykws.data.compose)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinykws.data.compose import MANIFEST, compose, needs_composing


def _one_word(tone_dataset: Path, root: Path, n: int = 12) -> Path:
    (root / "up").mkdir(parents=True)
    for p in sorted((tone_dataset / "up").iterdir())[:n]:
        shutil.copy(p, root / "up" / p.name)
    return root


def test_when_a_dataset_is_composed(tone_dataset, tmp_path):
    one = _one_word(tone_dataset, tmp_path / "one")
    assert needs_composing(one, ["up"], []) and needs_composing(one, None, [])
    assert not needs_composing(tone_dataset, ["up", "down"], [])  # it has other words (flat)
    assert needs_composing(tone_dataset, ["up", "down"], [str(tmp_path)])  # --negatives given


def test_compose_links_the_users_folder_and_adds_other_words_and_room_noise(tone_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYKWS_CACHE", str(tmp_path / "cache"))
    one = _one_word(tone_dataset, tmp_path / "one")
    before = sorted(p.name for p in (one / "up").iterdir())
    lines = []
    root = compose(one, ["up"], [tone_dataset], log=lines.append)
    m = json.loads((root / MANIFEST).read_text())
    assert (root / "up").resolve() == (one / "up").resolve()  # a link: new takes show up, nothing is copied
    assert m["negatives"][str(tone_dataset.resolve())] == ["down", "flat"]  # the other folders of --negatives
    assert m["synthetic_words"] and all((root / w).is_dir() for w in m["synthetic_words"])
    assert m["background"].startswith("generated:") and len(list((root / "_background_noise_").glob("*.wav"))) == 5
    assert any("generated background noise" in l for l in lines) and any("other words from" in l for l in lines)
    assert sorted(p.name for p in (one / "up").iterdir()) == before and sorted(p.name for p in one.iterdir()) == ["up"]
    assert compose(one, ["up"], [tone_dataset]) == root  # made once


def test_compose_refuses_a_negatives_folder_without_other_words(tone_dataset, tmp_path):
    from tinykws.errors import UserError

    one = _one_word(tone_dataset, tmp_path / "one")
    with pytest.raises(UserError, match="no folder of another word"):
        compose(one, ["up"], [one])
    with pytest.raises(UserError, match="folder not found"):
        compose(one, ["up"], [tmp_path / "nope"])


def test_a_new_word_beside_keywords_of_a_negatives_folder(tone_dataset, tmp_path, monkeypatch):
    """mine/ holds lamp only; --words lamp,down --negatives DATASET takes down from DATASET as a keyword
    (split by speaker there), lamp split by take, and DATASET's other words as other words."""
    from tinykws.data.dataset import discover
    from tinykws.errors import UserError
    from tinykws.pipeline import TrainConfig, compose_dataset

    monkeypatch.setenv("TINYKWS_CACHE", str(tmp_path / "cache"))
    mine = tmp_path / "mine"
    (mine / "lamp").mkdir(parents=True)
    for i, p in enumerate(sorted((tone_dataset / "up").iterdir())[:12]):
        shutil.copy(p, mine / "lamp" / f"me_nohash_{i}.wav")
    lines = []
    cfg = compose_dataset(TrainConfig(dataset=str(mine), words=["lamp", "down"], negatives=[str(tone_dataset)]), lines.append)
    root = Path(cfg.dataset)
    m = json.loads((root / MANIFEST).read_text())
    assert m["keywords_from"] == {"down": str(tone_dataset.resolve())} and (root / "down").resolve() == (tone_dataset / "down").resolve()
    assert m["negatives"][str(tone_dataset.resolve())] == ["flat", "up"]  # down is a keyword, not another word
    assert any(l.startswith("dataset: + keyword down from") for l in lines)
    ds = discover(root, ["lamp", "down"])
    assert ds.by_take == ["lamp"] and ds.split_method == "by speaker; by take for lamp"
    assert {e.split for e in ds.examples if e.label == "down"} == {"train", "validation", "test"}
    with pytest.raises(UserError, match="no folder for word"):
        compose(mine, ["lamp", "nowhere"], [tone_dataset])


@pytest.mark.slow
def test_train_on_a_folder_of_one_word_by_few_voices_runs_start_to_end(tone_dataset, tmp_path):
    one = _one_word(tone_dataset, tmp_path / "mine", n=15)
    p = subprocess.run([sys.executable, "-m", "tinykws", "train", str(one), "--arch", "ds-cnn-xs", "--epochs", "2",
                        "--stream-minutes", "0.2", "--hard-negative-rounds", "0", "--no-teacher", "--out", str(tmp_path / "runs")],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
    assert "holds only the keyword (up)" in p.stdout and "synthetic other words" in p.stdout
    run = next((tmp_path / "runs").iterdir())
    assert run.name.endswith("-mine-ds-cnn-s") or run.name.endswith("-mine-ds-cnn-xs")
    labels = json.loads((run / "labels.json").read_text())
    assert labels == ["up", "_unknown_", "_silence_"]
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["source_dataset"] == str(one.resolve()) and (Path(cfg["dataset"]) / MANIFEST).is_file()
    r = json.loads((run / "report.json").read_text())
    assert r["streaming"]["test"]["quiet"]["other_words"] > 0  # the streams hold other words to be judged on
    assert sorted(x.name for x in one.iterdir()) == ["up"]  # the user's folder is as it was


def test_five_takes_of_one_voice_still_give_every_split_a_take(tone_dataset, tmp_path):
    from tinykws.data.dataset import discover, split_of_take, splits_of_takes

    rels = [f"lamp/me_nohash_{i}.wav" for i in range(5)]
    assert len({split_of_take(r) for r in rels}) < 3  # the plain hash leaves a split empty for these five
    s = splits_of_takes(rels)
    assert sorted(s.values()) == ["test", "train", "train", "train", "validation"]
    many = [f"lamp/me_nohash_{i}.wav" for i in range(40)]
    assert splits_of_takes(many) == {r: split_of_take(r) for r in many}  # enough takes: the usual split, stable
    one = tmp_path / "one"
    (one / "lamp").mkdir(parents=True)
    src = sorted((tone_dataset / "up").iterdir())
    for i, r in enumerate(rels):
        shutil.copy(src[i], one / r)
    ds = discover(one, ["lamp"])
    assert {e.split for e in ds.examples if e.label == "lamp"} == {"train", "validation", "test"}


def test_streams_of_a_word_split_by_take_default_to_ten_minutes(tone_dataset, tmp_path, monkeypatch):
    from tinykws.data.dataset import discover
    from tinykws.pipeline import BY_TAKE_STREAM_MINUTES, default_stream_minutes
    from tinykws.evaluate.streaming import STREAM_MINUTES

    monkeypatch.setenv("TINYKWS_CACHE", str(tmp_path / "cache"))
    one = _one_word(tone_dataset, tmp_path / "one")
    assert default_stream_minutes(discover(compose(one, ["up"]), ["up"])) == BY_TAKE_STREAM_MINUTES
    assert default_stream_minutes(discover(tone_dataset, ["up", "down"])) == STREAM_MINUTES  # 24 voices: by speaker
