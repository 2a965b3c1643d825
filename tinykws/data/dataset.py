"""Keyword datasets in the Speech Commands layout: discovery, speaker-disjoint splits, manifest.

Layout::

    DATASET/<label>/<speaker>_nohash_<n>.wav     one clip per file, ideally 1 s
    DATASET/_background_noise_/*.wav             optional long noise takes
    DATASET/_silence_/*.wav                      optional real silence clips
    DATASET/validation_list.txt, testing_list.txt  optional, Speech Commands' own split

Contract:

- With ``words``, those folders are keywords and every other label folder becomes
  ``_unknown_``; without, every label folder is a keyword and there is no
  ``_unknown_`` class.
- The split is by speaker (the file name before ``_nohash_``, else the stem):
  a speaker's bucket is a hash of the speaker id, so adding files never moves
  existing files between splits. A label whose speakers do not reach all three
  splits (one to a few voices, e.g. a dataset recorded by one person) is split
  by take instead: the same hash of each file's path, just as stable, and said
  in one note. Where the dataset ships
  ``validation_list.txt`` / ``testing_list.txt`` those decide instead.
- ``_unknown_`` is subsampled (deterministically) to about the mean keyword
  count of each split; ``_silence_`` examples are clip-long crops (the spec's
  ``clip_ms`` at its ``sample_rate``) of background noise
  at random gains (noise files are cut by time: the first 80 % of every file
  feeds train, the next 10 % validation, the last 10 % test) plus any clips
  in a ``_silence_/`` folder, again about one keyword's share.
- Every label a model will output must pass :func:`tinykws.labels.check_label`
  (a keyword folder named ``turn on`` or ``a,b`` is refused, naming the folder).
- The manifest lists every example with its path, label, split and sha1; the
  dataset hash is the sha256 over the sorted ``relative path + sha1`` lines of
  all audio files, so two runs on "the same" data can be told apart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinykws.errors import UserError
from tinykws.io import sha1_file
from tinykws.labels import check_label

UNKNOWN = "_unknown_"
SILENCE = "_silence_"
BACKGROUND = "_background_noise_"
SPLITS = ("train", "validation", "test")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
_NOHASH = re.compile(r"^(?P<speaker>.+?)_nohash_")


@dataclass(frozen=True)
class Example:
    """One labelled clip.

    ``path`` is the file; for a silence crop of background noise ``offset`` and
    ``gain`` say which second of the noise file and at what level.
    """

    path: Path
    rel: str
    label: str
    source: str
    speaker: str
    split: str
    sha1: str
    offset: int = 0
    gain: float = 1.0
    kind: str = "clip"  # "clip" or "noise"


@dataclass
class Dataset:
    """A discovered dataset: labels in model output order, examples, noise files."""

    root: Path
    labels: list[str]
    examples: list[Example]
    noise_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hash: str = ""
    #: How the split was made: "by speaker", "by take", "by speaker; by take for LABELS" or "dataset lists".
    split_method: str = "by speaker"
    #: The labels split by take (too few voices to hold whole speakers out).
    by_take: list[str] = field(default_factory=list)

    def split(self, name: str) -> list[Example]:
        return [e for e in self.examples if e.split == name]

    def counts(self) -> dict[str, dict[str, int]]:
        """``{split: {label: n}}``."""
        out: dict[str, dict[str, int]] = {s: {l: 0 for l in self.labels} for s in SPLITS}
        for e in self.examples:
            out[e.split][e.label] += 1
        return out

    def manifest_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["path", "label", "source", "speaker", "split", "sha1", "offset", "gain"])
        for e in self.examples:
            w.writerow([e.rel, e.label, e.source, e.speaker, e.split, e.sha1, e.offset, f"{e.gain:.6g}"])
        return buf.getvalue()


def speaker_of(path: Path) -> str:
    """The speaker id: the part of the file name before ``_nohash_``, else the stem."""
    m = _NOHASH.match(path.name)
    return m.group("speaker") if m else path.stem


def split_of_speaker(speaker: str, fractions: tuple[float, float, float] = SPLIT_FRACTIONS) -> str:
    """Stable split for a speaker: a sha1 of the id mapped to [0, 1)."""
    h = int(hashlib.sha1(speaker.encode("utf-8")).hexdigest()[:8], 16) / 2**32
    if h < fractions[0]:
        return "train"
    if h < fractions[0] + fractions[1]:
        return "validation"
    return "test"


def split_by_speaker(paths: list[Path]) -> dict[Path, str]:
    """Map each file to its split by its speaker (see :func:`split_of_speaker`)."""
    return {p: split_of_speaker(speaker_of(p)) for p in paths}


def split_of_take(rel: str) -> str:
    """Stable split for one take: the speaker hash of its path in the dataset (``label/file.wav``)."""
    return split_of_speaker(rel)


def splits_of_takes(rels: list[str]) -> dict[str, str]:
    """The splits of one label's takes: :func:`split_of_take` each, unless that leaves a split empty; then,
    with three takes or more, by rank of the same hash (the last tenth, at least one, to test, the tenth
    before it to validation), so a word of five takes still has one in each split."""
    out = {r: split_of_take(r) for r in rels}
    if len(rels) < 3 or set(out.values()) == set(SPLITS):
        return out
    rank = sorted(rels, key=lambda r: hashlib.sha1(r.encode("utf-8")).hexdigest())
    k = max(1, round(0.1 * len(rank)))
    return {r: ("test" if i >= len(rank) - k else "validation" if i >= len(rank) - 2 * k else "train")
            for i, r in enumerate(rank)}


def labels_split_by_take(files_by_label: dict[str, list[Path]]) -> list[str]:
    """The labels whose speakers do not reach every split, so a speaker-disjoint split would leave one empty."""
    return [l for l, files in files_by_label.items() if {split_of_speaker(speaker_of(p)) for p in files} != set(SPLITS)]


def dataset_hash(rows: list[tuple[str, str]]) -> str:
    """sha256 over the sorted ``"relative/path sha1"`` lines."""
    h = hashlib.sha256()
    for rel, sha in sorted(rows):
        h.update(f"{rel} {sha}\n".encode("utf-8"))
    return h.hexdigest()


def _read_list(root: Path, name: str) -> set[str] | None:
    p = root / name
    if not p.is_file():
        return None
    return {line.strip() for line in p.read_text().splitlines() if line.strip()}


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))


def _order_key(e_sha: str, salt: str) -> str:
    return hashlib.sha1((salt + e_sha).encode()).hexdigest()


def discover(
    root: str | Path,
    words: list[str] | None = None,
    *,
    seed: int = 0,
    unknown_share: float = 1.0,
    silence_share: float = 1.0,
    include_unknown: bool = True,
    noise_seconds_per_silence: float = 1.0,
    spec=None,
) -> Dataset:
    """Find the clips of a dataset and assign labels and splits.

    Parameters
    ----------
    root : path
        Dataset folder in the Speech Commands layout.
    words : list of str or None
        Keywords. ``None``: every label folder is a keyword.
    seed : int
        Seeds the silence crops' offsets and gains.
    unknown_share, silence_share : float
        Size of ``_unknown_`` and ``_silence_`` relative to the mean keyword count per split.
    spec : FeatureSpec or None
        Sample rate and clip length of the silence crops (default :data:`tinykws.spec.DEFAULT_SPEC`).

    Raises
    ------
    UserError
        Missing folder, no label folders, a requested word with no folder, an empty label folder,
        a keyword folder whose name cannot be a label.
    """
    from tinykws.spec import DEFAULT_SPEC

    spec = spec or DEFAULT_SPEC
    root = Path(root)
    if not root.exists():
        raise UserError(f"dataset not found: {root}")
    if not root.is_dir():
        raise UserError(f"dataset must be a folder: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    label_dirs = {p.name: p for p in folders if p.name not in (BACKGROUND, SILENCE)}
    if not label_dirs:
        raise UserError(f"{root}: no label folders (expected DATASET/<label>/*.wav)")
    notes: list[str] = []
    if words is not None:
        words = [w.strip() for w in words if w.strip()]
        if not words:
            raise UserError("--words is empty")
        if len(set(words)) != len(words):
            raise UserError("--words lists a word twice")
        missing = [w for w in words if w not in label_dirs]
        if missing:
            raise UserError(f"{root}: no folder for word(s) {', '.join(missing)}; found {', '.join(sorted(label_dirs))}")
        for w in words:
            if w.startswith("_"):
                raise UserError(f"{w!r} cannot be a keyword: names starting with '_' are reserved")
    else:
        words = sorted(n for n in label_dirs if not n.startswith("_"))
        if not words:
            raise UserError(f"{root}: no keyword folders")
    for w in words:
        check_label(w, f"{root}: label folder")

    val_list = _read_list(root, "validation_list.txt")
    test_list = _read_list(root, "testing_list.txt")
    has_lists = val_list is not None or test_list is not None
    files_of = {name: _audio_files(folder) for name, folder in sorted(label_dirs.items())}
    by_take: list[str] = []
    split_method = "by speaker"
    if has_lists:
        notes.append("split taken from the dataset's validation_list.txt / testing_list.txt")
        split_method = "dataset lists"
    else:
        # Decided on every file of a label (the whole _unknown_ pool), before any subsampling, so
        # discovery with another unknown_share gives the same splits.
        files_by_label: dict[str, list[Path]] = {}
        for name, files in files_of.items():
            files_by_label.setdefault(name if name in words else UNKNOWN, []).extend(files)
        by_take = labels_split_by_take({l: f for l, f in files_by_label.items() if f})
        if by_take:
            voices = sorted({speaker_of(p) for l in by_take for p in files_by_label[l]})
            split_method = "by take" if len(by_take) == len([f for f in files_by_label.values() if f]) else \
                f"by speaker; by take for {', '.join(by_take)}"
            notes.append(f"split by take for {', '.join(by_take)}: {len(voices)} voice(s) ({', '.join(voices[:5])}"
                         f"{', ...' if len(voices) > 5 else ''}) are too few to hold whole speakers out, so the test "
                         "figures are for these voices and other voices will be heard worse; add some with "
                         "`tinykws record --speaker NAME` or `tinykws data import`")

    take_split: dict[str, str] = {}
    for l in by_take:
        take_split.update(splits_of_takes([p.relative_to(root).as_posix() for p in files_by_label[l]]))

    def split_for(rel: str, path: Path, label: str = "") -> str:
        if has_lists:
            if test_list and rel in test_list:
                return "test"
            if val_list and rel in val_list:
                return "validation"
            return "train"
        if label in by_take:
            return take_split.get(rel) or split_of_take(rel)
        return split_of_speaker(speaker_of(path))

    examples: list[Example] = []
    all_rows: list[tuple[str, str]] = []
    unknown_pool: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for name, folder in sorted(label_dirs.items()):
        files = files_of[name]
        if not files:
            if name in words:
                raise UserError(f"{folder}: label folder has no audio files")
            notes.append(f"{name}/ is empty, ignored")
            continue
        for p in files:
            rel = p.relative_to(root).as_posix()
            sha = sha1_file(p)
            all_rows.append((rel, sha))
            label = name if name in words else UNKNOWN
            e = Example(path=p, rel=rel, label=label, source=name, speaker=speaker_of(p), split=split_for(rel, p, label), sha1=sha)
            if label == UNKNOWN:
                unknown_pool[e.split].append(e)
            else:
                examples.append(e)

    per_split_kw = Counter(e.split for e in examples)
    mean_kw = {s: per_split_kw[s] / len(words) for s in SPLITS}
    has_unknown = include_unknown and any(unknown_pool.values())
    if has_unknown:
        for s in SPLITS:
            pool = sorted(unknown_pool[s], key=lambda e: _order_key(e.sha1, "unknown"))
            n = int(round(mean_kw[s] * unknown_share)) if mean_kw[s] else len(pool)
            examples.extend(pool[: max(n, 0)])

    # Silence: real _silence_ clips first, then crops of background noise.
    noise_files: list[Path] = []
    silence_examples: list[Example] = []
    if (root / SILENCE).is_dir():
        for p in _audio_files(root / SILENCE):
            rel = p.relative_to(root).as_posix()
            sha = sha1_file(p)
            all_rows.append((rel, sha))
            silence_examples.append(Example(p, rel, SILENCE, SILENCE, speaker_of(p), split_for(rel, p), sha))
    if (root / BACKGROUND).is_dir():
        noise_files = _audio_files(root / BACKGROUND)
        for p in noise_files:
            all_rows.append((p.relative_to(root).as_posix(), sha1_file(p)))
    crops = _silence_crops(root, noise_files, mean_kw, silence_share, silence_examples, seed,
                           spec.sample_rate, spec.clip_samples)
    silence_examples.extend(crops)
    has_silence = bool(silence_examples)
    examples.extend(silence_examples)
    if not has_silence:
        notes.append("no _background_noise_/ or _silence_/ folder: the model has no _silence_ class")

    labels = list(words) + ([UNKNOWN] if has_unknown else []) + ([SILENCE] if has_silence else [])
    ds = Dataset(root=root, labels=labels, examples=examples, noise_files=noise_files, notes=notes, split_method=split_method,
                 by_take=list(by_take))
    ds.hash = dataset_hash(all_rows)
    return ds


def _silence_crops(root, noise_files, mean_kw, share, existing, seed, sr: int, clip_n: int) -> list[Example]:
    """Crops of ``clip_n`` samples at ``sr`` Hz (offsets are in samples at ``sr``, as :func:`load_examples` loads)."""
    import soundfile as sf

    if not noise_files:
        return []
    rng = np.random.default_rng([seed, 7])
    lengths = []
    for p in noise_files:
        try:
            info = sf.info(str(p))
            lengths.append(int(info.frames * sr / info.samplerate))
        except Exception:
            lengths.append(0)
    out = []
    bounds = {"train": (0.0, 0.8), "validation": (0.8, 0.9), "test": (0.9, 1.0)}
    have = Counter(e.split for e in existing)
    for s in SPLITS:
        n = max(int(round(mean_kw[s] * share)) - have[s], 0)
        usable = [(p, L) for p, L in zip(noise_files, lengths) if L * (bounds[s][1] - bounds[s][0]) >= clip_n]
        if not usable:
            continue
        for i in range(n):
            p, L = usable[i % len(usable)]
            lo, hi = int(L * bounds[s][0]), int(L * bounds[s][1]) - clip_n
            off = int(rng.integers(lo, max(hi, lo) + 1))
            # Log-uniform gain from near-digital silence to the recording's own level.
            gain = float(10 ** rng.uniform(-3.0, 0.0)) if i % 10 else 0.0
            rel = p.relative_to(root).as_posix()
            out.append(Example(p, rel, SILENCE, BACKGROUND, f"noise-{p.stem}", s, "", offset=off, gain=gain, kind="noise"))
    return out


def load_examples(examples: list[Example], sr: int, n_samples: int) -> tuple[np.ndarray, list[str]]:
    """Load examples as one float32 array ``[n, n_samples]``; returns notes on conversions.

    Clips are resampled / mixed to mono as needed and cropped (around the loudest
    part) or zero-padded (centred) to ``n_samples``.
    """
    from tinykws.data.audio import fit_length, load_audio

    out = np.zeros((len(examples), n_samples), np.float32)
    notes: Counter = Counter()
    noise_cache: dict[Path, np.ndarray] = {}
    bad: dict[Path, str] = {}
    for i, e in enumerate(examples):
        if e.path in bad:
            continue
        if e.kind == "noise":
            if e.path not in noise_cache:
                try:
                    noise_cache[e.path] = load_audio(e.path, sr).y
                except UserError as err:
                    bad[e.path] = str(err)
                    continue
            y = noise_cache[e.path][e.offset : e.offset + n_samples] * e.gain
            y, _ = fit_length(y, n_samples)
        else:
            try:
                a = load_audio(e.path, sr)
            except UserError as err:
                bad[e.path] = str(err)  # go on: every bad file is named at once, not one per rerun
                continue
            for n in a.notes:
                notes[n.split(" (")[0]] += 1
            y, note = fit_length(a.y, n_samples)
            if note:
                notes["cropped" if note.startswith("cropped") else "padded"] += 1
        out[i] = y
    if bad:
        raise BadAudioError(list(bad.values()))
    return out, [f"{k}: {v} file(s)" for k, v in sorted(notes.items())]


class BadAudioError(UserError):
    """Audio files that cannot be used, all of them: one line per file after a first line with the count."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        n = len(problems)
        if n == 1:  # one file: one line
            super().__init__(f"{problems[0]}; fix or remove it (`tinykws data check DATASET` lists every problem)")
            return
        super().__init__(f"{n} audio files cannot be used; fix or remove them "
                         f"(`tinykws data check DATASET` lists every problem):\n"
                         + "\n".join(f"  {p}" for p in problems))


def add_extra_training_data(ds: Dataset, dirs: list[str | Path], spec=None) -> list[str]:
    """Add the clips of other datasets (e.g. synthetic speech) to ``ds``'s training split only.

    Only folders named like one of the run's keywords are used, so the
    validation and test splits stay the main dataset's own speakers. The
    dataset hash then covers both. Returns one line per folder for the log.
    """
    import dataclasses

    keywords = [l for l in ds.labels if l not in (UNKNOWN, SILENCE)]
    hashes = [ds.hash]
    notes = []
    for d in dirs:
        root = Path(d)
        present = [w for w in keywords if (root / w).is_dir()]
        if not present:
            raise UserError(f"{root}: none of the keywords ({', '.join(keywords)}) has a folder there")
        extra = discover(root, present, include_unknown=False, spec=spec)
        added = [dataclasses.replace(e, split="train", rel=f"{root.name}/{e.rel}") for e in extra.examples
                 if e.kind == "clip" and e.label in present]
        ds.examples.extend(added)
        hashes.append(extra.hash)
        notes.append(f"extra training data {root}: {len(added)} clips ({', '.join(present)})")
    ds.hash = hashlib.sha256(" ".join(hashes).encode()).hexdigest()
    return notes
