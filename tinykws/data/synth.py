"""Keyword clips from text, spoken by eSpeak NG in many voices.

Lets a user train a custom keyword before recording anything, gives the demo
its data, and (mixed into real recordings with ``tinykws train --extra-train``)
adds speaker variety. eSpeak NG comes as a shared library inside the
``espeakng-loader`` package and is driven through ctypes, so nothing needs a
system install.

The *speaker* is the eSpeak NG voice (``en-us+m3``, ``en-gb-x-rp+f2``, ...): its id
is a short hash of the voice alone, so every variant of a voice (its rates and
pitches) has the same speaker, a speaker-disjoint split keeps a whole voice on
one side, and the test split holds only voices the model never heard in any
variant. A voice's variants are told apart in the file name
(``<speaker>_nohash_<k>.wav``, ``k`` counting that voice's variants). The folder
gets ``validation_list.txt`` and ``testing_list.txt`` naming the clips of whole
held-out voices (:func:`write_voice_split`), so even a few voices give three
non-empty splits.

Bit-exact for a seed: eSpeak NG's waveform generator keeps state between
calls (flutter phase, its random generator), so :func:`synthesize_dataset`
renders in freshly started worker processes whose eSpeak random seed is set
from ``seed`` and which render a fixed slice of the variants in a fixed order.
The same call (same seed and ``workers``) therefore writes identical files.
:func:`synthesize_clip` on its own is reproducible only in a fresh process.

eSpeak keeps global state, so synthesis is serialised by a lock in each
process; :func:`synthesize_dataset` can spread variants over worker processes.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.errors import UserError

# eSpeak NG's speak_lib.h values.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4

BASE_VOICES = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5",
            "+klatt", "+klatt2", "+klatt3", "+croak", "+whisper", "+andy", "+annie", "+belinda", "+michel")

_lock = threading.Lock()
_lib = None
_lib_sr = 22050
_buf: list[np.ndarray] = []
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@_CALLBACK
def _collect(wav, n, events):  # pragma: no cover - called from C
    if n > 0 and wav:
        _buf.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    return 0


def _library():
    global _lib, _lib_sr
    if _lib is not None:
        return _lib
    try:
        import espeakng_loader
    except ImportError:
        raise UserError("speech synthesis needs the espeakng-loader package: pip install espeakng-loader") from None
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    data = Path(espeakng_loader.get_data_path())
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    sr = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data.parent).encode(), 0)
    if sr <= 0:
        sr = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), 0)
    if sr <= 0:
        raise UserError("eSpeak NG failed to initialise (espeakng-loader data not found)")
    lib.espeak_SetSynthCallback(_collect)
    # Older builds lack the seed setter; they are then reproducible only up to libc's rand.
    if hasattr(lib, "espeak_ng_SetRandSeed"):
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = ctypes.c_int
    _lib, _lib_sr = lib, sr
    return lib


def speaker_id(voice: str, rate_wpm: int | None = None, pitch: int | None = None) -> str:
    """Stable speaker id of a synthetic voice: the voice alone (rate and pitch make no other speaker)."""
    return "synth" + hashlib.sha1(f"voice|{voice}".encode()).hexdigest()[:8]


#: Share of a synthetic dataset's voices held out for validation and for test (at least one voice each).
HELD_OUT_VOICE_SHARE = 0.1


def write_voice_split(out_dir) -> dict[str, int] | None:
    """``validation_list.txt`` and ``testing_list.txt`` that hold out whole voices; voices per split.

    Voices are ranked by the hash of their speaker id (as :func:`tinykws.data.dataset.split_of_speaker`
    hashes it); the last :data:`HELD_OUT_VOICE_SHARE` go to test, the ones before them to validation,
    at least one voice each, so even a handful of voices gives three speaker-disjoint splits. Written
    only when every clip of the folder is synthetic (a folder that also holds recordings keeps the
    speaker-hash split) and there are at least three voices.
    """
    from tinykws.data.dataset import AUDIO_SUFFIXES, BACKGROUND, SILENCE
    from tinykws.io import atomic_write_text

    root = Path(out_dir)
    clips = sorted(p for d in root.iterdir() if d.is_dir() and d.name not in (BACKGROUND, SILENCE) and not d.name.startswith(".")
                   for p in d.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    speaker = {p: p.name.split("_nohash_")[0] for p in clips}
    voices = sorted(set(speaker.values()))
    if len(voices) < 3 or not all(v.startswith("synth") and "_nohash_" in p.name for p, v in speaker.items()):
        return None
    rank = sorted(voices, key=lambda v: hashlib.sha1(v.encode("utf-8")).hexdigest())
    k = max(1, round(HELD_OUT_VOICE_SHARE * len(voices)))
    test, val = set(rank[-k:]), set(rank[-2 * k : -k])
    for name, chosen in (("validation_list.txt", val), ("testing_list.txt", test)):
        atomic_write_text(root / name, "".join(f"{p.relative_to(root).as_posix()}\n" for p in clips if speaker[p] in chosen))
    return {"train": len(voices) - 2 * k, "validation": k, "test": k}


def synthesize_clip(text: str, *, voice: str, rate_wpm: int = 175, pitch: int = 50, sr: int = 16000) -> np.ndarray:
    """Speak ``text``; returns float32 mono audio at ``sr`` (its natural length, silence included).

    Raises
    ------
    UserError
        If the voice is unknown or eSpeak produced no audio.
    """
    from scipy.signal import resample_poly

    with _lock:
        lib = _library()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise UserError(f"unknown eSpeak voice {voice!r}")
        lib.espeak_SetParameter(_RATE, int(rate_wpm), 0)
        lib.espeak_SetParameter(_PITCH, int(pitch), 0)
        lib.espeak_SetParameter(_RANGE, 50, 0)
        lib.espeak_SetParameter(_VOLUME, 100, 0)
        _buf.clear()
        data = text.encode("utf-8") + b"\0"
        lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        pcm = np.concatenate(_buf) if _buf else np.zeros(0, np.int16)
        _buf.clear()
        native = _lib_sr
    if pcm.size == 0:
        raise UserError(f"eSpeak produced no audio for {text!r} with voice {voice!r}")
    y = pcm.astype(np.float32) / 32768.0
    if native != sr:
        g = np.gcd(native, sr)
        y = resample_poly(y, sr // g, native // g).astype(np.float32)
    return y


def centre_spoken(y: np.ndarray, n: int, sr: int) -> np.ndarray:
    """Trim to the spoken part (20 ms frames above 2 % of the peak energy) and centre it in ``n`` samples."""
    hop = sr // 50
    k = max(len(y) // hop, 1)
    e = np.array([np.mean(y[i * hop : (i + 1) * hop] ** 2) for i in range(k)])
    on = np.nonzero(e >= 0.02 * e.max())[0] if e.max() > 0 else np.arange(k)
    part = y[on[0] * hop : (on[-1] + 1) * hop]
    if len(part) > n:
        part = part[(len(part) - n) // 2 :][:n]
    out = np.zeros(n, np.float32)
    start = (n - len(part)) // 2
    out[start : start + len(part)] = part
    return out


def variants(n: int, seed: int) -> list[tuple[str, int, int]]:
    """``n`` distinct (voice, rate_wpm, pitch) triples, spread over voices first."""
    rng = np.random.default_rng([seed, 5])
    out, seen = [], set()
    combos = [b + v for v in VARIANTS for b in BASE_VOICES]
    order = rng.permutation(len(combos))
    i = 0
    while len(out) < n:
        voice = combos[order[i % len(combos)]]
        i += 1
        rate = int(rng.integers(120, 231))
        pitch = int(rng.integers(20, 81))
        key = (voice, rate, pitch)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def _noise_colour(kind: str, n: int, rng: np.random.Generator, sr: int) -> np.ndarray:
    white = rng.normal(0, 1, n)
    if kind == "white":
        y = white
    elif kind in ("pink", "brown"):
        f = np.fft.rfftfreq(n, 1 / sr)
        f[0] = f[1]
        shape = 1 / np.sqrt(f) if kind == "pink" else 1 / f
        y = np.fft.irfft(np.fft.rfft(white) * shape, n)
    elif kind == "hum":
        t = np.arange(n) / sr
        y = sum(np.sin(2 * np.pi * 50 * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 8)) + 0.05 * white
    else:
        raise ValueError(kind)
    y = y / (np.sqrt(np.mean(y**2)) + 1e-12)
    return (0.1 * y).astype(np.float32)


#: Words near each of Speech Commands' keywords in sound: negatives a keyword model must reject.
NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "yes": ("yet", "yellow", "yeah", "guess", "less", "chess"),
    "no": ("know", "nope", "snow", "nose", "now", "note"),
    "up": ("cup", "pup", "hop", "upper", "us", "cut"),
    "down": ("town", "gown", "done", "dawn", "round", "brown"),
    "left": ("lift", "loft", "lest", "laughed", "lent", "theft"),
    "right": ("write", "ride", "bright", "rice", "ripe", "rate"),
    "on": ("own", "an", "in", "john", "don", "honest"),
    "off": ("of", "cough", "oft", "awful", "offer", "if"),
    "stop": ("stock", "shop", "top", "step", "stuff", "spot"),
    "go": ("gone", "goat", "so", "grow", "ago", "gold"),
}
#: Everyday words that sound like none of Speech Commands' keywords: babble and generic negatives.
FILLER_WORDS = ("hello", "morning", "water", "table", "music", "paper", "window", "coffee", "maybe", "number",
                "garden", "little", "people", "weather", "kitchen", "minute", "thank you", "after", "family",
                "animal", "button", "camera", "dinner", "pencil", "silver", "simple", "basket", "monkey")


def negative_words(keywords: list[str]) -> list[str]:
    """Words a model for ``keywords`` must reject: their near misses, then filler words; never a keyword."""
    kw = {k.lower() for k in keywords}
    out: list[str] = []
    for k in keywords:
        out += NEAR_MISSES.get(k.lower(), ())
    out += FILLER_WORDS
    seen: set[str] = set()
    return [w for w in out if w.lower() not in kw and not (w in seen or seen.add(w))]


def babble_words(keywords: list[str], unknown_words=()) -> list[str]:
    """The words babble is made of: the other words and the filler words, never a keyword."""
    kw = {k.lower() for k in keywords}
    out = []
    for w in list(unknown_words) + list(FILLER_WORDS):
        if w.lower() not in kw and w not in out:
            out.append(w)
    return out


def _babble(words: list[str], n: int, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Three overlapping synthetic talkers saying ``words`` (callers pass non-keywords only)."""
    y = np.zeros(n, np.float32)
    vs = variants(12, int(rng.integers(1 << 30)))
    pos = 0
    while pos < n:
        for _ in range(3):  # three overlapping talkers
            v, r, p = vs[int(rng.integers(len(vs)))]
            w = synthesize_clip(" ".join(rng.choice(words, 3)), voice=v, rate_wpm=r, pitch=p, sr=sr)
            s = pos + int(rng.integers(0, sr // 2))
            e = min(n, s + len(w))
            if s < n:
                y[s:e] += w[: e - s] * 0.3
        pos += sr
    return (0.1 * y / (np.sqrt(np.mean(y**2)) + 1e-12)).astype(np.float32)


def _worker_init(rand_seed: int) -> None:
    """Runs first in every fresh worker process: load eSpeak and seed its random generator."""
    lib = _library()
    if hasattr(lib, "espeak_ng_SetRandSeed"):
        lib.espeak_ng_SetRandSeed(int(rand_seed))


def _write_variant(args) -> int:
    """Worker: render one variant's words and write the clips that do not exist yet; returns files written."""
    from tinykws.data.audio import write_wav

    out, sr, k = args[-3:]
    written = 0
    for word, spk, y in _render_variant(args[:-3]):
        path = Path(out) / word / f"{spk}_nohash_{k}.wav"
        if not path.exists():
            write_wav(path, y, sr)
            written += 1
    return written


def _write_babble(words, m, seed, sr, path) -> int:
    """Worker: babble background file from overlapped synthetic speech."""
    from tinykws.data.audio import write_wav

    if Path(path).exists():
        return 0
    write_wav(path, _babble(words, m, np.random.default_rng([seed, 11]), sr), sr)
    return 1


def serve_worker() -> None:
    """Worker process entry: read (rand_seed, tasks) pickled on stdin, run them in order, report each on stdout."""
    rand_seed, tasks = pickle.load(sys.stdin.buffer)
    try:
        _worker_init(rand_seed)
        for kind, args in tasks:
            n = _write_variant(args) if kind == "variant" else _write_babble(*args)
            print(kind, n, flush=True)
    except UserError as e:
        print("error", str(e).replace("\n", " "), flush=True)
        sys.exit(3)


def _run_workers(tasks: list[list], seed: int):
    """Run task lists in fresh worker processes (one each); yield (kind, files written) as they finish.

    Fresh interpreters rather than multiprocessing: eSpeak's state must start clean,
    forking a process that runs TensorFlow threads is unsafe, and "spawn" would re-run
    a caller's unguarded ``__main__``.
    """
    import threading as th

    events: queue.Queue = queue.Queue()
    procs = []
    for k, t in enumerate(tasks):
        # The parent's import path travels along, so a source checkout that is not installed works too.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        pr = subprocess.Popen([sys.executable, "-c", "from tinykws.data.synth import serve_worker; serve_worker()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=False, env=env)
        pr.stdin.write(pickle.dumps(((seed * 7919 + k) % (1 << 31), t)))
        pr.stdin.close()
        procs.append(pr)

        def pump(pr=pr):
            for line in pr.stdout:
                events.put(line.decode().rstrip("\n"))
            events.put(None)

        th.Thread(target=pump, daemon=True).start()
    finished, error = 0, None
    try:
        while finished < len(procs):
            line = events.get()
            if line is None:
                finished += 1
                continue
            kind, _, value = line.partition(" ")
            if kind == "error":
                error = value
            else:
                yield kind, int(value)
    finally:
        for pr in procs:
            if pr.poll() is None and error is not None:
                pr.kill()
            pr.wait()
    if error:
        raise UserError(error)
    bad = [pr.returncode for pr in procs if pr.returncode != 0]
    if bad:
        raise UserError(f"speech synthesis worker failed (exit status {bad[0]})")


def _render_variant(args) -> list[tuple[str, str, np.ndarray]]:
    """Worker: every word for one variant -> [(word, speaker, clip)]."""
    texts, voice, rate, pitch, sr, n, seed, noise = args
    rng = np.random.default_rng(seed)
    spk = speaker_id(voice, rate, pitch)
    out = []
    for word in texts:
        y = synthesize_clip(word.replace("_", " "), voice=voice, rate_wpm=rate, pitch=pitch, sr=sr)
        y = centre_spoken(y, n, sr)
        # Some voices (whisper, croak) leave a DC offset; remove it over the spoken part only.
        nz = np.nonzero(y)[0]
        if nz.size:
            y[nz[0] : nz[-1] + 1] -= y[nz[0] : nz[-1] + 1].mean()
        rms = np.sqrt(np.mean(y**2)) + 1e-12
        peak = np.max(np.abs(y)) + 1e-12
        # Random level, but never above -1 dBFS peak: a loud target on a short word would clip.
        y = y * min(10 ** (rng.uniform(-26, -12) / 20) / rms, 0.89 / peak)
        if noise:
            y = y + rng.normal(0, 10 ** (rng.uniform(-70, -50) / 20), n).astype(np.float32)
        out.append((word, spk, np.clip(y, -1, 32767 / 32768).astype(np.float32)))
    return out


def synthesize_dataset(out_dir, words, *, unknown_words=(), n_variants: int = 60, seed: int = 0, noise: bool = True,
                       background_seconds: float = 60.0, progress: Callable[[int, int], None] | None = None,
                       workers: int | None = None, sr: int = 16000) -> dict:
    """Write a Speech Commands style dataset of synthetic speech.

    Parameters
    ----------
    out_dir : path
        Created if missing; existing files are never overwritten.
    words : list of str
        Keywords: ``n_variants`` clips each (one per variant).
    unknown_words : list of str
        Other words, each spoken by a third of the variants (folders of their own).
    n_variants : int
        Voice variants (voice, rate, pitch); the voice is the speaker (variants of one voice share it).
    noise : bool
        Add a faint noise floor to clips, and write ``_background_noise_/`` files
        (white, pink, brown, mains hum, babble) of ``background_seconds`` each.
    progress : callable(done, total) or None
        Called in this process after each variant (``done`` of ``total`` variants).
    workers : int or None
        Worker processes (default 1). Each renders a fixed slice of the variants in a
        fresh interpreter, so the files are byte-identical for the same ``seed`` and ``workers``.
    sr : int
        Sample rate of the written clips, Hz (each clip is exactly ``sr`` samples, 1 s).

    Returns
    -------
    dict
        ``clips`` (files written now), ``seconds`` (wall time), ``voices`` (eSpeak voice names used),
        ``variants`` (list of [voice, rate_wpm, pitch, speaker]).

    Raises
    ------
    UserError
        No words, eSpeak NG missing, or a worker failed.
    """
    from tinykws.data.audio import write_wav

    t0 = time.perf_counter()
    out = Path(out_dir)
    words = [w for w in words if w]
    if not words:
        raise UserError("no words to synthesize")
    vs = variants(n_variants, seed)
    n = sr
    jobs = []
    for i, (v, r, p) in enumerate(vs):
        texts = list(words) + [u for j, u in enumerate(unknown_words) if (i + j) % 3 == 0]
        jobs.append((texts, v, r, p, sr, n, seed * 100003 + i, noise))
    # eSpeak renders a word in a few milliseconds, so one worker is plenty for a demo; more
    # workers each take a fixed slice of the variants (the split depends only on ``workers``).
    workers = max(1, int(workers or 1))
    bg = out / "_background_noise_"
    babble = noise and background_seconds > 0
    m = int(background_seconds * sr)
    tasks: list[list] = [[] for _ in range(workers)]
    seen_voice: dict[str, int] = {}
    for i, job in enumerate(jobs):
        k = seen_voice[job[1]] = seen_voice.get(job[1], -1) + 1  # this variant's number among its voice's
        tasks[i % workers].append(("variant", job + (str(out), sr, k)))
    if babble:
        bg.mkdir(parents=True, exist_ok=True)
        # Babble from non-keywords only: it becomes _silence_ crops and augmentation noise, where a
        # keyword would teach the model to ignore its own keywords.
        tasks[0].append(("babble", (babble_words(words, unknown_words), m, seed, sr, str(bg / "babble.wav"))))
    written = 0
    done = 0
    for kind, value in _run_workers(tasks, seed):
        if kind == "variant":
            written += value
            done += 1
            if progress:
                progress(done, len(jobs))
    if babble:
        rng = np.random.default_rng([seed, 9])
        for kind in ("white", "pink", "brown", "hum"):
            path = bg / f"{kind}_noise.wav"
            y = _noise_colour(kind, m, rng, sr)  # drawn even when the file exists: later files stay the same
            if not path.exists():
                write_wav(path, y, sr)
    write_voice_split(out)
    return {"clips": written, "seconds": round(time.perf_counter() - t0, 1),
            "voices": sorted({v for v, _, _ in vs}),
            "variants": [[v, r, p, speaker_id(v, r, p)] for v, r, p in vs]}


def training_speech(keywords: list[str], other_words=(), *, n_variants: int = 60, seed: int = 0,
                    log: Callable[[str], None] | None = None) -> Path:
    """Synthetic keywords and non-keywords for training, made once and kept in the cache.

    A Speech Commands style folder under :func:`tinykws.paths.cache_dir` ``("synth", key)``:
    every keyword spoken by ``n_variants`` variants, and each of ``other_words`` (say the
    dataset's non-keyword folder names: many more voices of the other words a stream will hold)
    and of :func:`negative_words` by a third of them (no background files). The key is a hash of
    everything that decides the files, so a cached folder is the folder the call would write;
    it is written beside and renamed when complete.
    """
    kw = {k.lower() for k in keywords}
    negatives = [w for w in dict.fromkeys(list(other_words) + negative_words(keywords))
                 if w.lower() not in kw and not w.startswith("_")]
    return cached_speech(list(keywords), negatives, n_variants=n_variants, seed=seed, log=log)


def cached_speech(words: list[str], unknown_words: list[str], *, n_variants: int, seed: int,
                  log: Callable[[str], None] | None = None) -> Path:
    """:func:`synthesize_dataset` of ``words`` (every variant) and ``unknown_words`` (a third each), no
    background files, made once under :func:`tinykws.paths.cache_dir` ``("synth", key)``."""
    import shutil

    from tinykws.paths import cache_dir

    # The last item is the folder layout's version: bump it when synthesize_dataset writes other files.
    key = hashlib.sha1(repr((sorted(words), list(unknown_words), n_variants, seed, 16000, 2)).encode()).hexdigest()[:16]
    final = cache_dir("synth", key)
    if (final / ".complete").is_file():
        return final
    work = final.with_name(f".{key}.{os.getpid()}.partial")
    shutil.rmtree(work, ignore_errors=True)
    t = time.perf_counter()
    synthesize_dataset(work, list(words), unknown_words=list(unknown_words), n_variants=n_variants, seed=seed,
                       background_seconds=0, workers=1)
    (work / ".complete").write_text("")
    try:
        os.replace(work, final)
    except OSError:  # another run finished the same folder first
        shutil.rmtree(work, ignore_errors=True)
    if log:
        said = f"{len(words)} words by each of {n_variants} voices" + (f", {len(unknown_words)} by a third of them" if unknown_words else "")
        log(f"synthetic speech: {said} ({time.perf_counter() - t:.0f} s, cached in {final})")
    return final