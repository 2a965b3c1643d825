"""A trainable dataset around a maker's own word: what tinykws brings when a folder holds only keywords.

A folder recorded with ``tinykws record`` may hold nothing but ``lamp/`` (a few takes by one or two
voices) and perhaps ``_background_noise_/``. A keyword model also needs to hear what is *not* the
word, and its streams need other words to be judged on. :func:`compose` makes a dataset folder (in
the cache, of links; nothing of the user's is copied or changed) that holds

- the user's keyword folders, as they are, and any keyword the user's folder lacks from the first
  ``--negatives DIR`` that has it (a new word beside Speech Commands keywords: ``mine/`` holds
  ``lamp/``, ``--words lamp,yes,no --negatives speech_commands``);
- **other words**: the non-keyword folders of every ``--negatives DIR`` given (say a Speech Commands
  download), and synthetic speech (eSpeak NG voices) of everyday words and of words that sound near
  each keyword (:func:`tinykws.data.synth.negative_words`), each a folder of its own, so the splits
  hold them out by (synthetic) voice as they hold out people;
- **background**: the user's ``_background_noise_/`` if there is one, else generated room noise
  (pink, brown, mains hum, white, at several levels), so the model has a ``_silence_`` class and the
  streams have a floor.

:func:`needs_composing` says when: the folder has no label folder besides the keywords, or
``--negatives`` was given. ``tinykws train`` says what it added, one line each.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.data.dataset import BACKGROUND, SILENCE, _audio_files
from tinykws.errors import UserError

#: Synthetic voice variants saying every other word, and their seed: other variants than the
#: synthetic training speech's (seed 0).
NEGATIVE_VARIANTS = 36
NEGATIVE_SEED = 11
#: Generated background: kinds, RMS levels (dBFS) and seconds of each file.
ROOM_NOISE = (("pink", -45.0), ("brown", -40.0), ("hum", -50.0), ("white", -55.0), ("pink", -35.0))
ROOM_NOISE_SECONDS = 60.0
#: Written into the composed folder: what it holds and where each part came from.
MANIFEST = "composed.json"


def label_folders(root: Path) -> list[str]:
    return sorted(p.name for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(".")
                  and p.name not in (BACKGROUND, SILENCE))


def needs_composing(root, words: list[str] | None, negatives) -> bool:
    """Whether :func:`compose` should run: ``--negatives`` given, or no label folder but the keywords
    (``words=None``: every folder is a keyword, so there is none)."""
    if negatives:
        return True
    root = Path(root)
    if not root.is_dir():
        return False
    return words is None or not [n for n in label_folders(root) if n not in words]


def is_composed(root) -> bool:
    return (Path(root) / MANIFEST).is_file()


def synthetic_folders(root) -> list[str]:
    """The other-word folders of a composed dataset that are synthetic speech (none for another folder)."""
    p = Path(root) / MANIFEST
    if not p.is_file():
        return []
    try:
        return list(json.loads(p.read_text()).get("synthetic_words", []))
    except (json.JSONDecodeError, AttributeError):
        return []


def _link(src: Path, dst: Path) -> None:
    os.symlink(os.path.abspath(src), dst, target_is_directory=src.is_dir())


def _room_noise(folder: Path, sr: int, seed: int) -> list[str]:
    import soundfile as sf

    from tinykws.data.synth import _noise_colour

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 5])
    names = []
    for i, (kind, dbfs) in enumerate(ROOM_NOISE):
        y = _noise_colour(kind, int(ROOM_NOISE_SECONDS * sr), rng, sr)
        y = y / (np.sqrt(np.mean(y.astype(np.float64) ** 2)) + 1e-12) * 10 ** (dbfs / 20)
        name = f"room_{i}_{kind}.wav"
        sf.write(folder / name, np.clip(y, -1, 32767 / 32768).astype(np.float32), sr, subtype="PCM_16")
        names.append(name)
    return names


def compose(root, words: list[str], negatives=(), *, sr: int = 16000, log: Callable[[str], None] | None = None) -> Path:
    """The composed dataset folder for the user's ``root`` (see the module docstring); made once, cached.

    Raises
    ------
    UserError
        A ``--negatives`` folder that does not exist or holds no other word.
    """
    from tinykws.data.synth import cached_speech, negative_words
    from tinykws.paths import cache_dir

    say = log or (lambda s: None)
    root = Path(root).resolve()
    negs = [Path(n).resolve() for n in negatives]
    other_of: dict[Path, list[str]] = {}
    for n in negs:
        if not n.is_dir():
            raise UserError(f"--negatives: folder not found: {n}")
        other_of[n] = [w for w in label_folders(n) if w not in words and _audio_files(n / w)]
        if not other_of[n]:
            raise UserError(f"--negatives {n}: no folder of another word (expected {n}/<word>/*.wav)")
    own_other = [w for w in label_folders(root) if w not in words]
    # Keywords the user's folder lacks, from the first --negatives folder that has them.
    keyword_from = {w: next((n for n in negs if (n / w).is_dir() and _audio_files(n / w)), None)
                    for w in words if not (root / w).is_dir()}
    lacking = [w for w, n in keyword_from.items() if n is None]
    if lacking:
        raise UserError(f"{root}: no folder for word(s) {', '.join(lacking)}, here or in any --negatives folder")
    synth_words = [w for w in negative_words(list(words)) if w.replace(" ", "_") not in own_other]
    has_noise = (root / BACKGROUND).is_dir() and bool(_audio_files(root / BACKGROUND))
    key = hashlib.sha1(repr((str(root), sorted(words), [str(n) for n in negs], synth_words, NEGATIVE_VARIANTS,
                             NEGATIVE_SEED, has_noise, ROOM_NOISE, sr, 1)
                             + ((sorted(keyword_from.items()),) if keyword_from else ())).encode()).hexdigest()[:16]
    final = cache_dir("composed", key)
    if (final / MANIFEST).is_file():
        say(f"dataset: {root} with what tinykws adds ({final})")
        return final
    speech = cached_speech(synth_words, [], n_variants=NEGATIVE_VARIANTS, seed=NEGATIVE_SEED, log=say)
    work = final.with_name(f".{key}.{os.getpid()}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    manifest: dict = {"source": str(root), "keywords": list(words), "negatives": {}, "synthetic_words": [], "background": ""}
    for name in label_folders(root):
        _link(root / name, work / name)
    if (root / SILENCE).is_dir():
        _link(root / SILENCE, work / SILENCE)
    taken = set(label_folders(root))
    for w, n in keyword_from.items():
        _link(n / w, work / w)
        taken.add(w)
        say(f"dataset: + keyword {w} from {n}: {len(_audio_files(n / w))} takes")
    manifest["keywords_from"] = {w: str(n) for w, n in keyword_from.items()}
    for n, ws in other_of.items():
        added = []
        for w in ws:
            dst = w if w not in taken else f"{w}__{hashlib.sha1(str(n).encode()).hexdigest()[:6]}"
            _link(n / w, work / dst)
            taken.add(dst)
            added.append(dst)
        manifest["negatives"][str(n)] = added
        say(f"dataset: + other words from {n}: {len(added)} folders ({', '.join(added[:6])}{', ...' if len(added) > 6 else ''})")
    synth_added = []
    for d in sorted(p for p in speech.iterdir() if p.is_dir() and p.name not in (BACKGROUND, SILENCE) and not p.name.startswith(".")):
        if d.name in taken or d.name in words:
            continue
        _link(d, work / d.name)
        taken.add(d.name)
        synth_added.append(d.name)
    manifest["synthetic_words"] = synth_added
    say(f"dataset: + synthetic other words: {len(synth_added)} words by {NEGATIVE_VARIANTS} eSpeak NG voice variants "
        f"({', '.join(synth_added[:8])}{', ...' if len(synth_added) > 8 else ''})")
    if has_noise:
        _link(root / BACKGROUND, work / BACKGROUND)
        manifest["background"] = str(root / BACKGROUND)
    else:
        names = _room_noise(work / BACKGROUND, sr, NEGATIVE_SEED)
        manifest["background"] = "generated: " + ", ".join(names)
        say(f"dataset: + generated background noise ({len(names)} x {ROOM_NOISE_SECONDS:.0f} s of pink, brown, hum and white "
            f"noise): no _background_noise_/ in {root}; record your room for a better one: "
            f"`tinykws record --label _background_noise_ --seconds 300 --out {root}`")
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    try:
        os.replace(work, final)
    except OSError:  # another run made it first
        shutil.rmtree(work, ignore_errors=True)
    say(f"dataset: {root} with what tinykws adds ({final})")
    return final
