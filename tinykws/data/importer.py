"""``tinykws data import``: any folder of audio laid out by label, into a tinykws dataset.

Every file soundfile can read (WAV of any format, FLAC, OGG, MP3 where
libsndfile supports it) becomes 16 kHz mono 16-bit PCM, 1 s long with its
loudest second (the spoken part) kept, written as
``OUT/<label>/<speaker>_nohash_<n>.wav``. Nothing is overwritten; every file
that is skipped is listed with its reason; ``manifest.csv`` lists what came from where.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from tinykws.data.audio import fit_length, load_audio, write_wav
from tinykws.data.dataset import AUDIO_SUFFIXES, BACKGROUND, speaker_of
from tinykws.errors import UserError
from tinykws.io import atomic_write_text, sha1_file


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "x"


def import_folder(src: str | Path, out: str | Path, *, sr: int = 16000) -> dict:
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise UserError(f"source folder not found: {src}")
    labels = sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not labels:
        raise UserError(f"{src}: no label folders (expected SRC/<label>/<audio files>)")
    rows, skipped = [], []
    for folder in labels:
        label = folder.name if folder.name in (BACKGROUND, "_silence_") else _safe(folder.name)
        for p in sorted(folder.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(src).as_posix()
            if p.suffix.lower() not in AUDIO_SUFFIXES:
                skipped.append((rel, f"not an audio file type ({p.suffix or 'no extension'})"))
                continue
            try:
                a = load_audio(p, sr)
            except UserError as e:
                skipped.append((rel, str(e).split(": ", 1)[-1]))
                continue
            speaker = _safe(speaker_of(p))
            if label == BACKGROUND:
                y, note = a.y, None
            else:
                y, note = fit_length(a.y, sr)
            dest_dir = out / label
            dest_dir.mkdir(parents=True, exist_ok=True)
            n = 0
            while (dest_dir / f"{speaker}_nohash_{n}.wav").exists():
                n += 1
            dest = dest_dir / f"{speaker}_nohash_{n}.wav"
            write_wav(dest, y, sr)
            rows.append([dest.relative_to(out).as_posix(), label, speaker, rel, sha1_file(p), "; ".join(a.notes + ([note] if note else []))])
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
    return {"imported": len(rows), "skipped": [{"file": f, "reason": r} for f, r in skipped]}
