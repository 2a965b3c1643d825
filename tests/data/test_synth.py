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
    # Same files, voices, levels; eSpeak's waveform generator keeps state between calls, so the
    # samples themselves are not bit-identical run to run (see synth.py).
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.wav"))
    for rel in files:
        if rel.parts[0] != "_background_noise_":
            ya, _ = sf.read(tmp_path / "a" / rel)
            yb, _ = sf.read(tmp_path / "b" / rel)
            ra, rb = np.sqrt(np.mean(ya**2)), np.sqrt(np.mean(yb**2))
            assert abs(20 * np.log10(ra / rb)) < 1.0
        if rel.parts[0] != "_background_noise_":
            info = sf.info(tmp_path / "a" / rel)
            assert (info.samplerate, info.frames, info.channels, info.subtype) == (16000, 16000, 1, "PCM_16")
    # Never overwrites: a second run into the same folder writes nothing new.
    again = synthesize_dataset(tmp_path / "a", ["yes", "no"], **args)
    assert again["clips"] == 0
