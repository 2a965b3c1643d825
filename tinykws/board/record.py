"""Recording keyword clips through the board's microphone, straight into a dataset.

The board streams raw audio in recording mode (``AUD`` lines with sequence
numbers and CRC-32). For every clip the speaker gets a countdown, then
``capture_s`` seconds are captured, the loudest second (the spoken part) is cut
out and written as ``DATASET/<label>/<speaker>_nohash_<n>.wav``: atomically,
never over an existing file. A lost or corrupted chunk means a retake, never
silent padding. ``rec stop`` is always sent, Ctrl-C included.
"""

from __future__ import annotations

import getpass
import hashlib
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.board.protocol import Ack, AudioAssembler, encode_command
from tinykws.errors import UserError

SR = 16000
CLIP_THRESHOLD = 32000   # |sample| at or above this counts as clipped
SILENCE_DBFS = -50.0     # a clip quieter than this (RMS) is treated as nothing said


def default_speaker() -> str:
    """A stable id for this computer's user (so a person's takes share a speaker id)."""
    return hashlib.sha1(f"{getpass.getuser()}@{platform.node()}".encode()).hexdigest()[:8]


def check_name(name: str, what: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]*|_background_noise_|_silence_", name):
        raise UserError(f"{what} {name!r}: use letters, digits, '-' and '_'")
    return name


def next_index(folder: Path, speaker: str) -> int:
    n = -1
    for p in folder.glob(f"{speaker}_nohash_*.wav"):
        m = re.fullmatch(rf"{re.escape(speaker)}_nohash_(\d+)\.wav", p.name)
        if m:
            n = max(n, int(m.group(1)))
    return n + 1


class AudioCapture:
    """Collects AUD chunks from a link; a gap in ``seq``, a bad CRC or a board reset since the last
    :meth:`clear` marks the take as lost (see :class:`tinykws.board.protocol.AudioAssembler`)."""

    def __init__(self, link):
        self.link = link
        self.asm = AudioAssembler()

    @property
    def count(self) -> int:
        return self.asm.count

    @property
    def lost(self) -> bool:
        return self.asm.lost

    def clear(self) -> None:
        self.asm.clear()

    def pump(self) -> None:
        for r in self.link.poll():
            self.asm.add(r)

    def take(self, n: int, timeout_s: float) -> np.ndarray | None:
        """``n`` contiguous samples, or ``None`` if audio was lost or did not come in time."""
        end = time.monotonic() + timeout_s
        while self.asm.count < n and not self.asm.lost:
            if time.monotonic() > end:
                raise UserError("the board stopped sending audio (unplugged, or not in recording mode?)")
            self.pump()
        if self.asm.lost:
            return None
        return self.asm.samples()[:n]


def loudest_second(y: np.ndarray, n: int = SR) -> tuple[np.ndarray, int]:
    """The ``n``-sample window with the most energy, and its offset."""
    from tinykws.data.audio import loudest_window_start

    start = loudest_window_start(y.astype(np.float32), n)
    return y[start : start + n], start


def level_dbfs(y: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean((y.astype(np.float64) / 32768) ** 2)))
    return 20 * np.log10(max(rms, 1e-9))


@dataclass
class Take:
    path: Path
    offset: int
    level_dbfs: float
    clipped: int


def record(link, *, label: str, count: int, out: Path, speaker: str | None = None, countdown_s: float = 2.0,
           capture_s: float = 1.5, seconds: float | None = None, say: Callable[[str], None] = print,
           max_retakes: int = 3) -> list[Take]:
    """Record ``count`` clips (or one ``seconds``-long take) of ``label`` into dataset ``out``."""
    from tinykws.data.audio import write_wav

    check_name(label, "label")
    speaker = check_name(speaker or default_speaker(), "speaker")
    if seconds is not None and label not in ("_background_noise_", "_silence_"):
        raise UserError("--seconds records long takes for _background_noise_ (or _silence_); use --count for words")
    folder = Path(out) / label
    folder.mkdir(parents=True, exist_ok=True)
    link.send(encode_command("rec", "start"))
    if link.wait_for(Ack, 3.0, lambda a: a.cmd == "rec") is None:
        raise UserError("the board did not answer `rec start`: is it running tinykws firmware? (`tinykws flash`)")
    cap = AudioCapture(link)
    takes: list[Take] = []
    try:
        if seconds is not None:
            say(f"recording {seconds:g} s of {label} ...")
            cap.clear()
            y = cap.take(int(seconds * SR), seconds + 5)
            if y is None:
                raise UserError("audio was lost during the take (a chunk missed or failed its CRC): try again, "
                                "with a shorter take or a faster serial link")
            path = folder / f"{speaker}_nohash_{next_index(folder, speaker)}.wav"
            write_wav(path, y, SR)
            takes.append(Take(path, 0, level_dbfs(y), int(np.count_nonzero(np.abs(y) >= CLIP_THRESHOLD))))
            say(f"wrote {path}")
            return takes
        i, retakes = 0, 0
        while i < count:
            for k in range(int(np.ceil(countdown_s)), 0, -1):
                say(f"[{i + 1}/{count}] say '{label}' in {k} ...")
                end = time.monotonic() + min(1.0, countdown_s)
                while time.monotonic() < end:
                    cap.pump()
            say(f"[{i + 1}/{count}] now!")
            cap.clear()
            y = cap.take(int(capture_s * SR), capture_s + 5)
            if y is None:
                retakes += 1
                say("audio was lost during this take (missing chunk or bad CRC): retake")
                if retakes > max_retakes:
                    raise UserError("audio keeps getting lost: check the cable and the serial speed (ESP32: 921600 baud)")
                continue
            clip, offset = loudest_second(y)
            lvl = level_dbfs(clip)
            clipped = int(np.count_nonzero(np.abs(clip) >= CLIP_THRESHOLD))
            meter = "#" * int(max(0, min(40, (lvl + 60) * 40 / 60)))
            say(f"level {lvl:6.1f} dBFS |{meter:<40}|")
            if lvl < SILENCE_DBFS:
                retakes += 1
                say("nothing heard (silence): retake, a little closer to the microphone")
                if retakes > max_retakes:
                    raise UserError("only silence from the microphone: check the wiring / gain")
                continue
            if clipped:
                say(f"warning: {clipped} samples clipped; speak a little further from the microphone")
            path = folder / f"{speaker}_nohash_{next_index(folder, speaker)}.wav"
            write_wav(path, clip, SR)
            takes.append(Take(path, offset, lvl, clipped))
            say(f"wrote {path}")
            i += 1
            retakes = 0
        return takes
    finally:
        try:
            link.send(encode_command("rec", "stop"))
        except Exception:
            pass
