"""``tinykws data import``: any folder of audio laid out by label, into a tinykws dataset.

Every file soundfile can read (WAV of any format, FLAC, OGG, MP3 where
libsndfile supports it) becomes mono 16-bit PCM at the feature spec's sample
rate, one clip long (``clip_ms``) with its loudest part (the spoken part) kept,
written as ``OUT/<label>/<speaker>_nohash_<n>.wav``. Nothing is overwritten;
every file that is skipped is listed with its reason; ``manifest.csv`` lists
what came from where.

Labels: a source folder whose name cannot be a label (:mod:`tinykws.labels`:
``turn on``, ``a,b``) is imported under the nearest valid name (``turn_on``),
and the result says so; two folders that would land on one label are refused.

Speakers decide the split (:func:`tinykws.data.dataset.split_of_speaker`), so
they must be right or the test split hears the training speakers. The rule:

- ``speaker_from="name"`` (default): a regular expression with one group,
  searched in the file name without its extension; the group is the speaker.
  The default, :data:`DEFAULT_SPEAKER_RE`, reads Speech Commands names
  (``<speaker>_nohash_<n>``); a file it does not match is its own speaker.
  With a pattern of your own, a file it does not match is skipped.
- ``speaker_from="folder"``: ``SRC/<label>/<speaker>/<file>``: the folder
  right under the label folder; a file directly in the label folder is skipped.

When every clip ends up its own speaker, the result carries a warning: the
split is then by clip, and near-identical takes of one person can land in
both train and test.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from tinykws.data.audio import fit_length, load_audio, write_wav
from tinykws.data.dataset import AUDIO_SUFFIXES, BACKGROUND, SILENCE
from tinykws.errors import UserError
from tinykws.io import atomic_write_text, sha1_file
from tinykws.labels import is_label, suggest_label

#: Speech Commands file names: ``<speaker>_nohash_<n>``.
DEFAULT_SPEAKER_RE = r"^(.+?)_nohash_"
SPEAKER_FROM = ("name", "folder")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "x"


def speaker_pattern(pattern: str | None) -> re.Pattern:
    """The compiled ``--speaker`` pattern; a one-line :class:`UserError` unless it has exactly one group."""
    try:
        rx = re.compile(pattern or DEFAULT_SPEAKER_RE)
    except re.error as e:
        raise UserError(f"--speaker {pattern!r} is not a regular expression: {e}") from None
    if rx.groups != 1:
        raise UserError(f"--speaker {pattern!r} must have exactly one group (the speaker), "
                        f"e.g. '^([a-z]+)_' ; it has {rx.groups}")
    return rx


def speaker_for(path: Path, label_dir: Path, *, rx: re.Pattern, from_folder: bool, strict: bool) -> str | None:
    """The speaker of ``path`` by the module's rule, or ``None`` when the rule cannot tell (skip the file)."""
    if from_folder:
        parts = path.relative_to(label_dir).parts
        return parts[0] if len(parts) > 1 else None
    m = rx.search(path.stem)
    if m and m.group(1):
        return m.group(1)
    return None if strict else path.stem


def label_names(folders: list[Path]) -> tuple[dict[Path, str], list[str]]:
    """Each source folder's label, and one note per folder that had to be renamed."""
    labels, notes, seen = {}, [], {}
    for folder in folders:
        name = folder.name
        if name in (BACKGROUND, SILENCE) or is_label(name):
            label = name
        else:
            label = suggest_label(name)
            if not label:
                raise UserError(f"{folder}: the folder name has no letters or digits to make a label of; rename it")
            notes.append(f"label folder {name!r} imported as {label!r} (labels use letters, digits, '_' and '-')")
        if label in seen:
            raise UserError(f"{seen[label].name!r} and {name!r} would both become label {label!r}: rename one of them")
        seen[label] = folder
        labels[folder] = label
    return labels, notes


def import_folder(src: str | Path, out: str | Path, *, spec=None, speaker: str | None = None,
                  speaker_from: str = "name") -> dict:
    """Import ``src`` into dataset ``out``; returns counts, skipped files, notes and warnings."""
    from tinykws.spec import DEFAULT_SPEC

    spec = spec or DEFAULT_SPEC
    sr, clip_n = spec.sample_rate, spec.clip_samples
    src, out = Path(src), Path(out)
    if speaker_from not in SPEAKER_FROM:
        raise UserError(f"--speaker-from must be one of {', '.join(SPEAKER_FROM)}")
    if speaker is not None and speaker_from == "folder":
        raise UserError("--speaker (a file name pattern) and --speaker-from folder exclude each other")
    rx = speaker_pattern(speaker)
    if not src.is_dir():
        raise UserError(f"source folder not found: {src}")
    folders = sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise UserError(f"{src}: no label folders (expected SRC/<label>/<audio files>)")
    labels, notes = label_names(folders)
    rows, skipped = [], []
    word_files, word_speakers = 0, set()
    for folder in folders:
        label = labels[folder]
        for p in sorted(folder.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(src).as_posix()
            if p.suffix.lower() not in AUDIO_SUFFIXES:
                skipped.append((rel, f"not an audio file type ({p.suffix or 'no extension'})"))
                continue
            who = speaker_for(p, folder, rx=rx, from_folder=speaker_from == "folder", strict=speaker is not None)
            if who is None:
                skipped.append((rel, "no speaker folder (--speaker-from folder reads SRC/<label>/<speaker>/<file>)"
                                if speaker_from == "folder" else f"file name does not match --speaker {speaker!r}"))
                continue
            try:
                a = load_audio(p, sr)
            except UserError as e:
                skipped.append((rel, str(e).split(": ", 1)[-1]))
                continue
            who = _safe(who)
            if label == BACKGROUND:
                y, note = a.y, None
            else:
                y, note = fit_length(a.y, clip_n)
                word_files += 1
                word_speakers.add(who)
            dest_dir = out / label
            dest_dir.mkdir(parents=True, exist_ok=True)
            n = 0
            while (dest_dir / f"{who}_nohash_{n}.wav").exists():
                n += 1
            dest = dest_dir / f"{who}_nohash_{n}.wav"
            write_wav(dest, y, sr)
            rows.append([dest.relative_to(out).as_posix(), label, who, rel, sha1_file(p), "; ".join(a.notes + ([note] if note else []))])
    warnings = []
    if word_files > 1 and len(word_speakers) == word_files:
        warnings.append(f"every one of the {word_files} clips is its own speaker, so the split cannot keep a person's "
                        "clips together: pass --speaker REGEX (one group, on the file name) or --speaker-from folder")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "label", "speaker", "source", "source_sha1", "conversion"])
    w.writerows(rows)
    if rows:
        manifest = out / "manifest.csv"
        if manifest.exists():
            old = manifest.read_text().splitlines()[1:]
            buf = io.StringIO(buf.getvalue() + "".join(line + "\n" for line in old))
        atomic_write_text(manifest, buf.getvalue())
    return {"imported": len(rows), "skipped": [{"file": f, "reason": r} for f, r in skipped], "notes": notes,
            "warnings": warnings, "speakers": len(word_speakers)}
