"""A small scripted board on a real pseudo-terminal, for the link's failure cases.

It speaks just enough of the protocol (``info``, ``rec start|stop``, ``AUD``
chunks of a steady tone) and can misbehave the way real boards do: restart
when the port opens (an ESP32 DevKit's auto-reset: it loses the first command
and prints ``BOOT``), or vanish mid-run (unplugged: the pty goes away).
"""

from __future__ import annotations

import errno
import os
import threading
import time
import tty

import numpy as np

from tinykws.board.protocol import encode_audio

HASH = "ab" * 32


def boot_line(tag: str = "BOOT", sr: int = 16000) -> bytes:
    return (f"{tag} proto=1 board=fake fw=0.1.0 model={HASH} spec={HASH} labels=yes,no,_unknown_,_silence_ "
            f"arena_used=1000 arena_size=2000 mic=i2s sr={sr} status=ok\n").encode()


class FakeBoard:
    """``sr``: the rate it reports and streams at; ``amplitude``: peak of its tone; ``speed``: audio
    speed relative to real time; ``restart_on_first_command``: drop the first command and print BOOT;
    ``vanish_on_command``: the pty goes away when that command arrives."""

    def __init__(self, *, sr: int = 16000, amplitude: int = 3000, speed: float = 4.0,
                 restart_on_first_command: bool = False, vanish_on_command: str | None = None,
                 boot: str | None = None, ignore: tuple[str, ...] = (), after_info: bytes = b""):
        self.sr, self.amplitude, self.speed = sr, amplitude, speed
        self.after_info = after_info  # bytes sent once, after the first answer to `info`
        self.boot = boot  # a whole BOOT line (without the newline) to answer with, instead of boot_line()
        self.ignore = ignore  # commands it hears and never answers (a board running other firmware)
        self.restart_pending = restart_on_first_command
        self.vanish_on_command = vanish_on_command
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        os.set_blocking(self.master, False)
        self.commands: list[str] = []
        self.recording = False
        self.seq = 0
        self.chunks_sent = 0
        self.gone = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _boot(self, tag: str) -> bytes:
        if self.boot is None:
            return boot_line(tag, self.sr)
        return f"{tag} {self.boot.split(' ', 1)[1]}\n".encode()  # the given line, under this tag

    def start(self) -> "FakeBoard":
        self._thread.start()
        return self

    def _write(self, data: bytes) -> None:
        # Whole lines: a full pty (a reader busy for a moment) holds the board up for up to a second, as USB
        # flow control does, rather than cutting a line short (a torn AUD line reads as lost audio). A reader
        # gone for longer loses the rest, so the board still hears its commands.
        view, give_up = memoryview(data), time.monotonic() + 1.0
        while view and not self.gone and not self._stop.is_set() and time.monotonic() < give_up:
            try:
                view = view[os.write(self.master, view):]
            except OSError as e:
                if e.errno in (errno.EIO, errno.EBADF):
                    return
                if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                    raise
                time.sleep(0.001)

    def _command(self, line: str) -> None:
        self.commands.append(line)
        if self.vanish_on_command is not None and line == self.vanish_on_command:
            self.vanish()
            return
        if line in self.ignore:
            return
        if self.restart_pending:
            self.restart_pending = False
            self.recording = False
            time.sleep(0.2)  # the board boots
            self._write(b"\x00\xffets Jun  8 2016 00:22:57\r\n")  # ROM chatter at another baud rate
            self._write(self._boot("BOOT"))
            return
        if line == "info":
            self._write(self._boot("INFO"))
            self._write(self.after_info)
            self.after_info = b""
        elif line == "rec start":
            self.recording, self.seq = True, 0
            self._write(b"ACK cmd=rec value=start\n")
        elif line == "rec stop":
            self.recording = False
            self._write(b"ACK cmd=rec value=stop\n")
        else:
            self._write(b"ERR code=bad_cmd msg=unknown command\n")

    def _serve(self) -> None:
        buf = bytearray()
        n = 256
        t = np.arange(n)
        phase = 0
        next_chunk = time.monotonic()
        while not self._stop.is_set() and not self.gone:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                data = b""
            buf.extend(data)
            while b"\n" in buf and not self.gone:
                i = buf.index(b"\n")
                line = bytes(buf[:i]).decode("ascii", "replace").strip()
                del buf[: i + 1]
                if line:
                    self._command(line)
            if self.gone:
                return
            if self.recording and time.monotonic() >= next_chunk:
                y = (self.amplitude * np.sin(2 * np.pi * 440 * (t + phase) / self.sr)).astype(np.int16)
                phase += n
                self._write(encode_audio(self.seq, y))
                self.seq += 1
                self.chunks_sent += 1
                next_chunk += n / self.sr / self.speed
            else:
                time.sleep(0.001)

    def vanish(self) -> None:
        """The board is unplugged: both ends of the pty close and the device node goes away."""
        self.gone = True
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        if not self.gone:
            self.vanish()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
