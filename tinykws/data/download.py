"""``tinykws data download speech-commands``: Google's Speech Commands, resumable and verified.

The archive is fetched over HTTPS into ``OUT/.download/<name>.part`` and resumed
with an HTTP Range request after an interruption. Verification, before anything
is extracted: the size must equal the server's Content-Length and the archive's
pinned size (:data:`ARCHIVES`; a server announcing another size is refused before
the download starts), and the sha256 must equal the pinned one (or ``--sha256``,
which then replaces both pins: another archive). A mirror (``--url``) is held to
the same pins. The pins are the published ones: TensorFlow Datasets'
``url_checksums/speech_commands.txt`` for v0.02 (size and sha256; torchaudio's
table gives the same sha256), torchaudio's ``_CHECKSUMS`` for v0.01 (sha256 only:
public download logs disagree on its size, so none is pinned). Extraction goes to a
temporary folder next to ``OUT`` (refusing absolute paths, ``..`` and links out
of the tree) and, when complete, becomes ``OUT`` in one rename (the folder, not
file by file), so a failed or interrupted run leaves no half-extracted dataset. The archive's ``validation_list.txt`` and
``testing_list.txt`` are kept: :func:`tinykws.data.dataset.discover` honours them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tinykws.errors import UserError

@dataclass(frozen=True)
class Archive:
    """An official archive: where it is, and the size and sha256 published for it (``None``: not known)."""

    url: str
    size: int | None
    sha256: str | None


ARCHIVES = {
    "0.01": Archive("https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.01.tar.gz", None,
                    "743935421bb51cccdb6bdd152e04c5c70274e935c82119ad7faeec31780d811d"),
    "0.02": Archive("https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.02.tar.gz", 2_428_923_189,
                    "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"),
}


def fetch(url: str, part: Path, *, progress: Callable[[int, int], None] | None = None, timeout_s: float = 60,
          expected_size: int | None = None) -> int:
    """Download ``url`` into ``part``, resuming what is there; returns the total size.

    With ``expected_size``, a server announcing another size is refused before anything is read.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout_s)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # already complete
            return have
        raise UserError(f"download failed: HTTP {e.code} from {url}") from None
    except (urllib.error.URLError, OSError) as e:
        raise UserError(f"download failed: {getattr(e, 'reason', e)} ({url})") from None
    with resp:
        if have and resp.status != 206:
            have = 0  # the server ignored the range: start over
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else -1
        if expected_size is not None and total >= 0 and total != expected_size:
            raise UserError(f"{url} has {total:,} bytes, the archive's published size is {expected_size:,}: "
                            "not the archive expected; nothing was extracted")
        with open(part, "ab" if have else "wb") as f:
            done = have
            while True:
                try:
                    block = resp.read(1 << 16)
                except OSError as e:
                    raise UserError(f"download interrupted at {done:,} bytes ({e}); run the same command again to resume") from None
                if not block:
                    break
                f.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
    if total >= 0 and part.stat().st_size != total:
        raise UserError(f"download incomplete ({part.stat().st_size:,} of {total:,} bytes); run the same command again to resume")
    return part.stat().st_size


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def safe_extract(archive: Path, dest: Path) -> int:
    """Extract a .tar.gz into ``dest`` refusing anything that would land outside it."""
    n = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for m in tar:
                name = Path(m.name)
                if name.is_absolute() or ".." in name.parts or m.issym() or m.islnk() or m.isdev():
                    raise UserError(f"archive member {m.name!r} is unsafe; refusing to extract")
                if m.isdir():
                    (dest / name).mkdir(parents=True, exist_ok=True)
                    continue
                if not m.isfile():
                    continue
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                with open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                n += 1
    except (tarfile.TarError, EOFError, OSError) as e:
        raise UserError(f"the archive is damaged ({e}); delete {archive} and download again") from None
    return n


def publish(tmp: Path, out: Path) -> None:
    """Make the complete folder ``tmp`` become ``out`` in one rename.

    ``out`` may exist holding only the partial download (``.download/``): that is moved into
    ``tmp`` first (it is deleted afterwards), so the one rename finds ``out`` gone.
    """
    dl = out / ".download"
    moved = False
    if dl.is_dir():
        os.replace(dl, tmp / ".download")
        moved = True
    try:
        if out.exists():
            out.rmdir()  # empty now; fails (and nothing is lost) if someone put files there meanwhile
        os.rename(tmp, out)
    except OSError as e:
        if moved:
            out.mkdir(exist_ok=True)
            os.replace(tmp / ".download", dl)
        raise UserError(f"cannot move the extracted dataset into {out}: {e}") from None


def download_speech_commands(out: str | Path, *, version: str = "0.02", url: str | None = None,
                             sha256: str | None = None, progress: Callable[[int, int], None] | None = None) -> dict:
    out = Path(out)
    if version not in ARCHIVES:
        raise UserError(f"unknown Speech Commands version {version!r} (0.01 or 0.02)")
    if out.exists() and any(out.iterdir()):
        if (out / ".download").is_dir() and len(list(out.iterdir())) == 1:
            pass  # only our partial download is there: resume
        else:
            raise UserError(f"{out} exists and is not empty: choose a new folder")
    pin = ARCHIVES[version]
    url = url or pin.url
    # A sha256 given by the user is another archive's: it replaces both pins.
    want_sha, want_size = (sha256, None) if sha256 else (pin.sha256, pin.size)
    part = out / ".download" / (Path(url).name + ".part")
    size = fetch(url, part, progress=progress, expected_size=want_size)
    if want_size is not None and size != want_size:
        raise UserError(f"{url} gave {size:,} bytes, the archive's published size is {want_size:,}: "
                        "not the archive expected; nothing was extracted")
    if want_sha and _sha256(part) != want_sha.lower():
        bad = part.with_suffix(".bad")
        os.replace(part, bad)
        raise UserError(f"checksum mismatch for {url} (kept as {bad} for inspection); nothing was extracted")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.extract-", dir=out.parent))
    try:
        n = safe_extract(part, tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; it becomes the dataset folder
        publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out / ".download", ignore_errors=True)
    return {"url": url, "bytes": size, "files": n, "out": str(out),
            "lists": [p for p in ("validation_list.txt", "testing_list.txt") if (out / p).is_file()]}
