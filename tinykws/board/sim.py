"""A virtual board on a pseudo-terminal.

It runs the firmware's portable core (its host build, :class:`tinykws.boardcode.native.App`)
with the run's int8 model on the TFLM interpreter as the engine and WAV files as
its microphone, writes the lines the core's own encoder makes, and answers the
same commands as a board (recording mode included). Any serial tool can attach to
the printed port path; tinykws's record, monitor and flash's hash check do in the
tests.

Audio runs at the real rate (``realtime``) or as fast as the reader takes lines.
After the WAV files the microphone hears faint noise (or the files again with
``loop``). When nobody reads the port, lines are dropped like a board's USB
serial does, rather than blocking.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import time
import tty
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.errors import UserError


class VirtualBoard:
    """The firmware core behind a pseudo-terminal, with WAV files as its microphone.

    ``engine`` (int8 window -> int8 scores) defaults to the run's model on the
    firmware's default engine (the native int8 engine built for this computer; TFLM's kernels
    where it cannot run the model: the same scores); tests pass engines of their own.
    """

    def __init__(self, run, wavs: list[str | Path] = (), *, realtime: bool = True, loop: bool = False, seed: int = 0,
                 engine: Callable[[np.ndarray], np.ndarray] | None = None):
        from tinykws.data.audio import load_audio, to_int16
        from tinykws.boardcode.native import App

        self.run = run
        self.sr = run.spec.sample_rate
        parts = []
        for w in wavs:
            parts.append(to_int16(load_audio(w, self.sr).y))
        self.source = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        self.loop = loop and len(self.source) > 0
        self.realtime = realtime
        self.pos = 0
        self.rng = np.random.default_rng(seed)
        self.lines_dropped = 0
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave  # kept open so the port exists while nobody is attached
        os.set_blocking(self.master, False)
        if engine is None:
            from tinykws.boardcode.engines import model_engine

            engine, self.engine_name = model_engine(run)
        else:
            self.engine_name = "custom"
        self._cmd = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The BOOT line carries what a board's does: the engine's name and, for the native engine,
        # the CRC of its weights, so that flash's and monitor's identity checks run here as there.
        ident = {"board": "sim", "mic": "wav"}
        if self.engine_name != "custom":
            ident["engine"] = self.engine_name
        crc = getattr(engine, "weights_crc32", None)
        if crc is not None:
            ident["weights_crc"] = int(crc)
        self.app = App(run, engine, self._write, audio=self._read_audio, identity=ident)

    # The core's callbacks -------------------------------------------------------------
    def _write(self, line: str) -> None:
        data = line.encode("ascii")
        deadline = time.monotonic() + (0.0 if self.realtime else 1.0)
        while data:
            try:
                n = os.write(self.master, data)
                data = data[n:]
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EIO):
                    raise
                if time.monotonic() >= deadline or e.errno == errno.EIO:
                    self.lines_dropped += 1  # nobody reading: drop, as a board does
                    return
                select.select([], [self.master], [], 0.05)

    def _budget(self) -> int:
        return self._allowed - self._consumed

    def _read_audio(self, max_n: int) -> np.ndarray:
        n = min(max_n, self._budget())
        if n <= 0:
            return np.zeros(0, np.int16)
        out = np.empty(n, np.int16)
        filled = 0
        while filled < n:
            if self.pos < len(self.source):
                k = min(n - filled, len(self.source) - self.pos)
                out[filled : filled + k] = self.source[self.pos : self.pos + k]
                self.pos += k
                filled += k
            elif self.loop:
                self.pos = 0
            else:
                out[filled:] = self.rng.normal(0, 20, n - filled).astype(np.int16)  # a quiet room
                filled = n
        self._consumed += n
        return out

    # Serving ------------------------------------------------------------------------------
    def _commands(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return
        self._cmd.extend(data)
        while b"\n" in self._cmd:
            i = self._cmd.index(b"\n")
            line = bytes(self._cmd[:i]).decode("ascii", "replace").strip()
            del self._cmd[: i + 1]
            if line:
                self.app.command(line)

    def serve(self, duration_s: float | None = None) -> None:
        """Run until :meth:`stop` (or ``duration_s`` of audio)."""
        self._consumed = 0
        self._allowed = 0
        t0 = time.monotonic()
        chunk = self.sr // 50  # 20 ms
        while not self._stop.is_set():
            if duration_s is not None and self._consumed >= duration_s * self.sr:
                break
            r, _, _ = select.select([self.master], [], [], 0.0 if not self.realtime else 0.005)
            if r:
                self._commands()
            if self.realtime:
                self._allowed = int((time.monotonic() - t0) * self.sr)
            else:
                self._allowed = self._consumed + chunk
            self.app.step()
            if self.realtime:
                time.sleep(0.005)

    def start(self, duration_s: float | None = None) -> "VirtualBoard":
        self._thread = threading.Thread(target=self.serve, args=(duration_s,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def close(self) -> None:
        self.stop()
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_sim(run, wavs, **kw) -> VirtualBoard:
    """A :class:`VirtualBoard` for ``run`` (a :class:`tinykws.run.Run`, or a run folder to load)."""
    from tinykws.run import Run, load_run

    for w in wavs:
        if not Path(w).is_file():
            raise UserError(f"WAV not found: {w}")
    return VirtualBoard(run if isinstance(run, Run) else load_run(run), wavs, **kw)


# The port's symlink (--link) ------------------------------------------------------------------
#: Where the pseudo-terminals a virtual board opens live: a symlink to one is a port link tinykws made.
PTY_DIR = "/dev/pts/"


def is_port_link(path: str | Path) -> bool:
    """``path`` is a symlink to a pseudo-terminal (a virtual board's port link, ours to replace)."""
    return os.path.islink(path) and os.readlink(path).startswith(PTY_DIR)


def check_link_path(link: str | Path) -> None:
    """A one-line :class:`UserError` if ``link`` exists and is anything but an old port link (nothing is replaced then)."""
    if os.path.lexists(link) and not is_port_link(link):
        raise UserError(f"{link} exists and is not a link to a virtual board's port: remove it or choose another --link")


def make_port_link(link: str | Path, port: str) -> None:
    """Symlink ``link`` -> ``port``, replacing only an old port link (see :func:`check_link_path`)."""
    link = Path(link)
    check_link_path(link)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    try:
        os.symlink(port, tmp)
        check_link_path(link)  # again, just before the replace: a file made meanwhile is never replaced
        os.replace(tmp, link)
    except OSError as e:
        raise UserError(f"cannot make the link {link}: {e.strerror or e}") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def remove_port_link(link: str | Path, port: str) -> None:
    """Remove ``link`` if it still points at ``port`` (another sim may have taken the name since)."""
    try:
        if os.path.islink(link) and os.readlink(link) == port:
            os.unlink(link)
    except OSError:
        pass


# The registry of running virtual boards (what `--port auto` finds) ----------------------------
def registry_dir() -> Path:
    """A per-user folder of ``sim-<pid>.json`` files, one per running virtual board."""
    import tempfile

    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return Path(base) / "tinykws"
    return Path(tempfile.gettempdir()) / f"tinykws-{os.getuid()}"


def register_sim(port: str) -> Path:
    """Note this process's virtual board on ``port``; returns the entry to remove with :func:`unregister_sim`."""
    import json

    from tinykws.io import atomic_write_text

    d = registry_dir()
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return atomic_write_text(d / f"sim-{os.getpid()}.json", json.dumps({"pid": os.getpid(), "port": port}) + "\n")


def unregister_sim(entry: Path) -> None:
    try:
        entry.unlink()
    except OSError:
        pass


def _alive(pid: int) -> bool:
    """``pid`` runs, and (where /proc tells) is a tinykws process, not another one given a dead sim's pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    try:
        return b"tinykws" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return not Path("/proc/self").exists()


def running_sims() -> list[str]:
    """Ports of the virtual boards running now; entries of dead processes (or gone ports) are ignored."""
    import json

    out = []
    d = registry_dir()
    for f in sorted(d.glob("sim-*.json")) if d.is_dir() else []:
        try:
            e = json.loads(f.read_text())
            pid, port = int(e["pid"]), str(e["port"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(pid) and os.path.exists(port):
            out.append(port)
    return out
