"""``tinykws data check``: what is wrong with a dataset, without touching it.

Every audio file is read once (never written). Findings are *errors* (the file
cannot be used as it is: unreadable, empty, not audio, NaN or infinite
samples, an absurd sample rate; training refuses the same files) or *warnings* (usable
but suspicious: wrong rate or format, clipped, near-silent, speech cut at an
edge, DC offset, duplicates, imbalance, speakers shared between the dataset's own
validation/testing lists). The dataset hash (see
:func:`tinykws.data.dataset.dataset_hash`) is computed over every audio file so
two runs on "the same" data can be told apart.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from tinykws.data.audio import sample_rate_problem
from tinykws.data.dataset import AUDIO_SUFFIXES, BACKGROUND, dataset_hash, speaker_of
from tinykws.errors import UserError

CLIP_LEVEL = 0.999          # |x| at or above this (float scale) counts as clipped
CLIPPED_SHARE = 0.001       # more than 0.1 % clipped samples -> warning
SILENT_DBFS = -55.0         # clip RMS below this -> near-silent
EDGE_SHARE = 0.35           # an edge 20 ms frame this loud vs the peak frame -> speech cut off
DC_LIMIT = 0.02             # |mean| above this -> DC offset
NEAR_DUP_CORR = 0.99        # fingerprint correlation above this within a label -> near duplicate


@dataclass
class FileReport:
    rel: str
    label: str
    speaker: str
    sha1: str = ""
    sr: int | None = None
    channels: int | None = None
    subtype: str | None = None
    seconds: float | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    envelope: np.ndarray | None = None


def _envelope(y: np.ndarray, sr: int) -> np.ndarray:
    """Coarse fingerprint for near-duplicates: log energy in 8 bands x 50 frames of the first second.

    Band energies rather than a loudness envelope alone: synthetic or carefully
    recorded takes of one word share their envelope, but a different voice shows
    in the spectrum. Normalised to zero mean, unit variance, shape (400,).
    """
    hop = max(sr // 50, 1)
    y = np.pad(y, (0, max(0, sr - len(y))))[: hop * 50]
    spec = np.abs(np.fft.rfft(y.reshape(50, hop) * np.hanning(hop), axis=1)) ** 2
    edges = np.unique(np.geomspace(2, spec.shape[1], 9).astype(int))
    bands = np.stack([spec[:, a:b].sum(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    e = np.log(bands + 1e-10).ravel()
    e = np.maximum(e, e.max() - np.log(1e5))  # 50 dB below the loudest cell: faint hiss and digital silence look alike
    return (e - e.mean()) / (e.std() + 1e-9)


def check_file(path: Path, root: Path, expect_sr: int = 16000, expect_s: float = 1.0) -> FileReport:
    rel = path.relative_to(root).as_posix()
    label = rel.split("/")[0]
    r = FileReport(rel, label, speaker_of(path))
    data = path.read_bytes()
    r.sha1 = hashlib.sha1(data).hexdigest()
    if not data:
        r.errors.append("empty file")
        return r
    try:
        info = sf.info(str(path))
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for bad files
        r.errors.append(f"unreadable: {str(e).splitlines()[0][:120] if str(e) else type(e).__name__}")
        return r
    r.sr, r.channels, r.subtype = sr, y.shape[1], info.subtype
    r.seconds = len(y) / sr if sr else None
    if len(y) == 0:
        r.errors.append("no samples")
        return r
    bad_rate = sample_rate_problem(sr)
    if bad_rate:
        r.errors.append(f"{bad_rate} (a damaged or mislabelled file?)")
        return r
    if not np.all(np.isfinite(y)):
        r.errors.append(f"NaN or infinite samples ({int(np.count_nonzero(~np.isfinite(y)))} of {y.size})")
        return r
    if sr != expect_sr:
        r.warnings.append(f"sample rate {sr} Hz (resampled to {expect_sr} on load)")
    if y.shape[1] != 1:
        r.warnings.append(f"{y.shape[1]} channels (mixed to mono on load)")
    if info.subtype != "PCM_16":
        r.warnings.append(f"sample format {info.subtype} (converted on load)")
    mono = y.mean(axis=1)
    if label == BACKGROUND:
        return r
    if abs(r.seconds - expect_s) > 0.05:
        r.warnings.append(f"length {r.seconds:.2f} s ({'cropped' if r.seconds > expect_s else 'padded'} to {expect_s:g} s on load)")
    peak = np.abs(mono)
    if np.mean(peak >= CLIP_LEVEL) > CLIPPED_SHARE:
        r.warnings.append(f"clipped ({100 * np.mean(peak >= CLIP_LEVEL):.1f} % of samples at full scale)")
    rms = float(np.sqrt(np.mean(mono.astype(np.float64) ** 2)))
    if 20 * np.log10(max(rms, 1e-9)) < SILENT_DBFS:
        r.warnings.append(f"near-silent ({20 * np.log10(max(rms, 1e-9)):.0f} dBFS)")
    elif label != "_silence_":
        hop = max(sr // 50, 1)
        n = len(mono) // hop
        if n >= 5:
            e = np.sqrt(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1))
            if max(e[0], e[-1]) > EDGE_SHARE * e.max():
                r.warnings.append("speech cut off at the clip's " + ("start" if e[0] >= e[-1] else "end"))
    if abs(float(mono.mean())) > DC_LIMIT:
        r.warnings.append(f"DC offset {float(mono.mean()):+.3f}")
    r.envelope = _envelope(mono, sr) if rms > 0 else None
    return r


def _kind(finding: str) -> str:
    """The kind of a finding, without its numbers and file names ("length N s", "DC offset N")."""
    import re

    k = finding.split(" (")[0].split(" of ")[0].split(": ")[0]
    return re.sub(r"[-+]?\d[\d.]*", "N", k).strip()


def check_dataset(root: str | Path) -> dict:
    """Check every audio file under ``root``; returns the full report (JSON-ready)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise UserError(f"{root}: no audio files (expected DATASET/<label>/*.wav)")
    reports = [check_file(p, root) for p in files]
    by_sha: dict[str, list[FileReport]] = defaultdict(list)
    for r in reports:
        if r.sha1:
            by_sha[r.sha1].append(r)
    for group in by_sha.values():
        if len(group) > 1:
            for r in group:
                r.warnings.append("exact duplicate of " + ", ".join(o.rel for o in group if o is not r))
    # Near-duplicates: same label, loudness envelopes almost identical (but not byte-identical).
    # Keyed by the fingerprint's size too: a file at another rate can have fewer bands.
    by_label: dict[tuple[str, int], list[FileReport]] = defaultdict(list)
    for r in reports:
        if r.envelope is not None and r.label != BACKGROUND:
            by_label[(r.label, r.envelope.size)].append(r)
    for group in by_label.values():
        if len(group) < 2 or len(group) > 4000:
            continue
        E = np.stack([g.envelope for g in group]) / np.sqrt(group[0].envelope.size)
        C = E @ E.T
        np.fill_diagonal(C, 0)
        for i, j in zip(*np.nonzero(np.triu(C) > NEAR_DUP_CORR)):
            if group[i].sha1 != group[j].sha1:
                group[i].warnings.append(f"near-duplicate of {group[j].rel}")
                group[j].warnings.append(f"near-duplicate of {group[i].rel}")
    words = [r for r in reports if r.label not in (BACKGROUND,)]
    counts = Counter(r.label for r in words)
    speakers_per_label = {l: len({r.speaker for r in words if r.label == l}) for l in counts}
    problems: list[str] = []
    kw_counts = {l: n for l, n in counts.items() if not l.startswith("_")}
    if kw_counts and max(kw_counts.values()) > 3 * max(min(kw_counts.values()), 1):
        problems.append(f"label imbalance: {min(kw_counts, key=kw_counts.get)} has {min(kw_counts.values())} clips, "
                        f"{max(kw_counts, key=kw_counts.get)} has {max(kw_counts.values())}")
    lists = {}
    for name, split in (("validation_list.txt", "validation"), ("testing_list.txt", "test")):
        p = root / name
        if p.is_file():
            lists[split] = {line.strip() for line in p.read_text().splitlines() if line.strip()}
    if lists:
        split_of = {}
        for r in words:
            split_of[r.rel] = next((s for s, ls in lists.items() if r.rel in ls), "train")
        spk_splits: dict[str, set] = defaultdict(set)
        for r in words:
            spk_splits[r.speaker].add(split_of[r.rel])
        shared = sorted(s for s, ss in spk_splits.items() if len(ss) > 1)
        if shared:
            problems.append(f"{len(shared)} speaker(s) appear in more than one of train/validation/test lists: "
                            + ", ".join(shared[:5]) + ("..." if len(shared) > 5 else ""))
    n_err = sum(1 for r in reports if r.errors)
    return {
        "root": str(root),
        "dataset_hash": dataset_hash([(r.rel, r.sha1) for r in reports]),
        "files": len(reports),
        "labels": dict(sorted(counts.items())),
        "speakers": len({r.speaker for r in words}),
        "speakers_per_label": dict(sorted(speakers_per_label.items())),
        "background_files": sum(1 for r in reports if r.label == BACKGROUND),
        "sample_rates": dict(Counter(str(r.sr) for r in reports if r.sr)),
        "formats": dict(Counter(r.subtype for r in reports if r.subtype)),
        "files_with_errors": n_err,
        "files_with_warnings": sum(1 for r in reports if r.warnings and not r.errors),
        "warning_kinds": dict(Counter(_kind(w) for r in reports for w in r.warnings)),
        "error_kinds": dict(Counter(_kind(e) for r in reports for e in r.errors)),
        "dataset_problems": problems,
        "issues": [{"file": r.rel, "errors": r.errors, "warnings": r.warnings} for r in reports if r.errors or r.warnings],
        "_reports": reports,
    }


def plot_overview(result: dict, path: Path) -> None:
    """Clips per label, clip lengths and warnings: one row a label or warning, so no name covers another."""
    from tinykws.io import pyplot, save_png

    plt = pyplot()
    reports = result["_reports"]
    labels = list(result["labels"])
    kinds = result["warning_kinds"]
    rows = max(len(labels), len(kinds), 1)
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, max(3.6, 1.4 + 0.17 * rows)), layout="constrained",
                                  gridspec_kw={"width_ratios": [1, 1.2, 1.2]})
    from matplotlib.ticker import MaxNLocator

    fig.get_layout_engine().set(wspace=0.06)  # room between panels for the tick labels at their edges
    a.barh(range(len(labels)), [result["labels"][l] for l in labels])
    a.xaxis.set_major_locator(MaxNLocator(integer=True))
    a.set_yticks(range(len(labels)), labels, fontsize=7)
    a.invert_yaxis()
    a.set_xlabel("clips")
    a.set_title("clips per label")
    b.hist([r.seconds for r in reports if r.seconds and r.label != BACKGROUND], bins=30)
    b.set_yscale("log")  # one length (1 s) dominates; the log scale keeps the odd ones visible
    b.set_xlabel("clip length (s)")
    b.set_ylabel("clips")
    b.set_title("clip length")
    if kinds:
        c.barh(range(len(kinds)), list(kinds.values()))
        c.set_yticks(range(len(kinds)), list(kinds), fontsize=7)
        c.invert_yaxis()
    else:
        c.set_yticks([])
        c.text(0.5, 0.5, "no warnings", ha="center", va="center", transform=c.transAxes)
    c.xaxis.set_major_locator(MaxNLocator(integer=True))
    c.set_xlabel("files")
    c.set_title("warnings")
    save_png(fig, path)
    plt.close(fig)
