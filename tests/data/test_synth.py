"""eSpeak NG synthesis: real speech-like audio, centred, seeded, one speaker per variant."""

import numpy as np
import soundfile as sf

from tinykws.data.synth import centre_spoken, speaker_id, synthesize_clip, synthesize_dataset, variants


def test_a_word_is_speech_not_silence():
    y = synthesize_clip("yes", voice="en-us")
    assert y.dtype == np.float32 and 0.15 * 16000 < len(y) < 1.5 * 16000
    assert np.sqrt(np.mean(y**2)) > 0.01
    # Energy sits in the speech band: most of it below 4 kHz.
    S = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / 16000)
    assert S[f < 4000].sum() > 0.8 * S.sum()


def test_voices_differ_and_words_differ():
    a = synthesize_clip("stop", voice="en-us", pitch=30)
    b = synthesize_clip("stop", voice="en-us+f3", pitch=70)
    c = synthesize_clip("go", voice="en-us", pitch=30)
    assert len(a) != len(c) or not np.allclose(a[: len(c)], c)
    n = min(len(a), len(b))
    assert not np.allclose(a[:n], b[:n], atol=1e-3)


def test_centred_in_one_second():
    y = centre_spoken(synthesize_clip("down", voice="en"), 16000, 16000)
    assert y.shape == (16000,)
    e = y**2
    centre = np.sum(np.arange(16000) * e) / e.sum()
    assert abs(centre - 8000) < 2500
    assert np.all(y[:300] == 0) and np.all(y[-300:] == 0)


def test_variants_are_distinct_speakers():
    vs = variants(50, seed=1)
    assert len(set(vs)) == 50
    assert len({speaker_id(*v) for v in vs}) == 50
    assert variants(50, seed=1) == vs


def test_dataset_layout_and_determinism(tmp_path):
    args = dict(unknown_words=["cat", "dog"], n_variants=6, seed=4, background_seconds=3.0)
    st = synthesize_dataset(tmp_path / "a", ["yes", "no"], **args)
    synthesize_dataset(tmp_path / "b", ["yes", "no"], **args)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.wav"))
    assert len(files) == st["clips"] + 5
    assert len(list((tmp_path / "a" / "yes").glob("synth*_nohash_0.wav"))) == 6
    assert {p.name for p in (tmp_path / "a" / "_background_noise_").iterdir()} == {
        "white_noise.wav", "pink_noise.wav", "brown_noise.wav", "hum_noise.wav", "babble.wav"}
    # Bit-identical: every run renders in fresh worker processes with eSpeak's random seed set.
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.wav"))
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
        if rel.parts[0] != "_background_noise_":
            info = sf.info(tmp_path / "a" / rel)
            assert (info.samplerate, info.frames, info.channels, info.subtype) == (16000, 16000, 1, "PCM_16")
            y, _ = sf.read(tmp_path / "a" / rel)
            assert 0.01 < np.max(np.abs(y)) < 0.92  # audible, never clipped
    # Never overwrites: a second run into the same folder writes nothing new.
    again = synthesize_dataset(tmp_path / "a", ["yes", "no"], **args)
    assert again["clips"] == 0
    assert st["voices"] == sorted({v for v, _, _, _ in st["variants"]})


def test_speaker_ids_follow_variants(tmp_path):
    st = synthesize_dataset(tmp_path, ["yes"], n_variants=4, seed=2, noise=False, workers=2)
    spk = {s for _, _, _, s in st["variants"]}
    assert {p.name.split("_nohash_")[0] for p in (tmp_path / "yes").glob("*.wav")} == spk
    assert not (tmp_path / "_background_noise_").exists()


def test_cli_synth_writes_the_same_files_as_the_api(tmp_path):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "tinykws", "data", "synth", str(tmp_path / "cli"), "--words", "yes",
                        "--unknown", "cat", "--variants", "3", "--seed", "5"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "wrote 4 clips from 3 voice variants" in p.stdout
    synthesize_dataset(tmp_path / "api", ["yes"], unknown_words=["cat"], n_variants=3, seed=5)
    files = sorted(q.relative_to(tmp_path / "cli") for q in (tmp_path / "cli").rglob("*.wav"))
    assert files and all((tmp_path / "cli" / f).read_bytes() == (tmp_path / "api" / f).read_bytes() for f in files)


def test_babble_and_negatives_never_hold_a_keyword(monkeypatch, tmp_path):
    """Babble becomes _silence_ crops and augmentation noise: no keyword may be spoken in it."""
    import tinykws.data.synth as synth

    kws = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    assert not set(synth.negative_words(kws)) & set(kws)
    assert "yet" in synth.negative_words(kws) and "know" in synth.negative_words(kws)
    spoken = []
    monkeypatch.setattr(synth, "synthesize_clip", lambda text, **k: spoken.append(text) or np.full(4000, 0.1, np.float32))
    synth._babble(synth.babble_words(kws, ["cat", "yes", "dog"]), 48000, np.random.default_rng(0), 16000)
    words_said = {w for t in spoken for w in t.split()}
    assert spoken and not words_said & set(kws)
    # What synthesize_dataset hands its babble worker.
    tasks = []
    monkeypatch.setattr(synth, "_run_workers", lambda t, seed: tasks.extend(t) or iter(()))
    synth.synthesize_dataset(tmp_path, ["yes", "no"], unknown_words=["cat", "no"], n_variants=2, background_seconds=1.0)
    babble = [args for task in tasks for kind, args in task if kind == "babble"]
    assert babble and not set(babble[0][0]) & {"yes", "no"} and "cat" in babble[0][0]
