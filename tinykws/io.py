"""Small file helpers: atomic writes, hashing, silencing a file descriptor, PNG figures.

Every file tinykws writes goes through a temporary file in the same folder and
``os.replace``, so an interrupted run never leaves a half-written file behind
and never clobbers a good one with a partial one.

A place that cannot be written (read-only, full, no permission, a file where a
folder should be) is the user's to fix: :func:`check_writable` finds out before
a command's long work starts, and a write that fails later (the disk filled up)
raises :class:`WriteError`, one line naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from pathlib import Path

from tinykws.errors import UserError


class WriteError(UserError, OSError):
    """A file or folder could not be written. Also an ``OSError``, so code that shrugs off a failed
    write (a cache) still does."""


def write_error(path: str | Path, e: OSError, what: str = "") -> WriteError:
    """One line for a failed write of ``path``: what it is, where, and the system's reason."""
    if e.errno in (errno.EEXIST, errno.ENOTDIR):
        reason = "a file is in the way of a folder on that path"
    else:
        reason = e.strerror or type(e).__name__
    return WriteError(f"{what + ' ' if what else ''}{path}: cannot write there ({reason})")


@contextlib.contextmanager
def writing(path: str | Path, what: str = ""):
    """Turn an ``OSError`` raised in the block (disk full, read-only, no permission) into a
    :class:`WriteError` naming ``path`` (or the file the error names)."""
    try:
        yield
    except WriteError:
        raise
    except OSError as e:
        raise write_error(e.filename or path, e, what) from None


def check_writable(path: str | Path, what: str, *, folder: bool = False, append: bool = False) -> Path:
    """Make sure ``path`` (a file, or with ``folder=True`` a folder) can be written, before the work.

    Creates the folder it goes in (as the write itself will), writes and removes a small probe file
    there, then removes the folders it made, so a command that fails later leaves no empty folder;
    ``append=True`` (a log, appended to in place): an existing writable file is enough. Raises
    :class:`WriteError` naming ``what`` (an option such as ``--log``) and the path.
    """
    path = Path(path)
    d = path if folder else path.parent
    if not folder and path.is_dir():
        raise WriteError(f"{what} {path}: is a folder; give a file name")
    if append and path.is_file() and os.access(path, os.W_OK):
        return path
    made = [p for p in (d, *d.parents) if not p.exists()]
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tinykws-probe.", dir=d)
        try:
            os.write(fd, b"probe\n")
        finally:
            os.close(fd)
            os.unlink(probe)
        if not folder and path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    except OSError as e:
        raise write_error(path, e, what) from None
    finally:
        for p in made:  # deepest first
            with contextlib.suppress(OSError):
                p.rmdir()
    return path


def _read_umask() -> int:
    # os.umask can only be read by setting it: do it once, at import, before any worker thread exists.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _umask() -> int:
    return _UMASK


def atomic_write_bytes(path: str | Path, data: bytes, *, overwrite: bool = True, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; a failed write raises :class:`WriteError` naming ``path``.

    With ``overwrite=False`` an existing file is never replaced: a
    ``FileExistsError`` is raised instead (the link is made with ``os.link``,
    which fails if the name exists, so two writers cannot both win).
    ``fsync=False`` skips forcing the data to disk (for caches, which can be rebuilt).
    """
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would (0666 - umask).
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            os.unlink(tmp)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and not isinstance(e, FileExistsError):  # FileExistsError: overwrite=False
            raise write_error(path, e) from None
        raise
    return path


def atomic_write_text(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def file_digest(path: str | Path, algorithm: str) -> str:
    """Hex digest of a file's bytes (``algorithm``: a :func:`hashlib.new` name), read in 64 KiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def sha1_file(path: str | Path) -> str:
    return file_digest(path, "sha1")


def sha256_file(path: str | Path) -> str:
    return file_digest(path, "sha256")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def quiet_fd(fd: int):
    """Silence C-level output on file descriptor ``fd`` (1 or 2) for the ``with`` block.

    TensorFlow, its converter and the TFLM runtime print from C++ straight to
    the descriptors, past Python's ``sys.stdout``; Python exceptions still raise.
    """
    try:
        saved = os.dup(fd)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | Path, *, dpi: int = 110) -> Path:
    """Write a matplotlib figure as PNG atomically."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())
