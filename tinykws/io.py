"""Small file helpers: atomic writes, hashing, silencing a file descriptor, PNG figures.

Every file tinykws writes goes through a temporary file in the same folder and
``os.replace``, so an interrupted run never leaves a half-written file behind
and never clobbers a good one with a partial one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


def _read_umask() -> int:
    # os.umask can only be read by setting it: do it once, at import, before any worker thread exists.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _umask() -> int:
    return _UMASK


def atomic_write_bytes(path: str | Path, data: bytes, *, overwrite: bool = True, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically.

    With ``overwrite=False`` an existing file is never replaced: a
    ``FileExistsError`` is raised instead (the link is made with ``os.link``,
    which fails if the name exists, so two writers cannot both win).
    ``fsync=False`` skips forcing the data to disk (for caches, which can be rebuilt).
    """
    path = Path(path)
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
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def sha1_file(path: str | Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


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
