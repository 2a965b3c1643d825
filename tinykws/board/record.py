"""Recording keyword clips through the board's microphone, straight into a dataset.

The board streams raw audio in recording mode (``AUD`` lines with sequence
numbers and CRC-32). For every clip the speaker gets a countdown, then
``capture_s`` seconds are captured, the loudest second (the spoken part) is cut
out and written as ``DATASET/<label>/<speaker>_nohash_<n>.wav``: atomically,
never over an existing file. A lost or corrupted chunk means a retake, never
silent padding. ``rec stop`` is always sent, Ctrl-C included (``tinykws record`` turns
SIGTERM and SIGHUP into the same clean-up). A long take (``seconds``) cut short
by Ctrl-C keeps the part captured so far.

The sample rate is the board's own (``sr`` of its ``BOOT``/``INFO`` line) and a
clip is ``clip_ms`` long (the default feature spec's clip); nothing assumes
16 kHz. A board that restarts when the port opens (ESP32 auto-reset) or during
a take is noticed by its ``BOOT`` line: ``rec start`` is sent again and the take
in progress is retaken. Every take's peak level is reported against
:data:`PEAK_TARGET_DBFS`. If the board goes away mid-run, the clips already
written stay and the error says so.
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

from tinykws.board.protocol import Ack, AudioAssembler, Boot, encode_command
from tinykws.errors import UserError
from tinykws.labels import check_label
from tinykws.spec import DEFAULT_SPEC

CLIP_THRESHOLD = 32000   # |sample| at or above this counts as clipped
SILENCE_DBFS = -50.0     # a clip quieter than this (RMS) is treated as nothing said
#: Where a spoken word's peak should sit: loud enough to be well above the microphone's noise,
#: with room before clipping for a louder speaker.
PEAK_TARGET_DBFS = (-20.0, -6.0)


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

    def __init__(self, link, on_restart: Callable[[], None] | None = None):
        self.link = link
        self.asm = AudioAssembler()
        self.on_restart = on_restart

    @property
    def count(self) -> int:
        return self.asm.count

    @property
    def lost(self) -> bool:
        return self.asm.lost

    def clear(self) -> None:
        self.asm.clear()

    def samples(self) -> np.ndarray:
        """Every sample held since the last :meth:`clear`, int16."""
        return self.asm.samples()

    def pump(self) -> None:
        for r in self.link.poll():
            self.asm.add(r)
            if isinstance(r, Boot) and r.tag == "BOOT" and self.on_restart is not None:
                self.on_restart()  # the board restarted: it is out of recording mode

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


def loudest_window(y: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """The ``n``-sample window with the most energy, and its offset."""
    from tinykws.data.audio import loudest_window_start

    start = loudest_window_start(y.astype(np.float32), n)
    return y[start : start + n], start


def level_dbfs(y: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean((y.astype(np.float64) / 32768) ** 2)))
    return 20 * np.log10(max(rms, 1e-9))


def peak_dbfs(y: np.ndarray) -> float:
    """Peak level of int16 samples in dBFS (0 dBFS = full scale)."""
    peak = float(np.max(np.abs(y.astype(np.float64)))) / 32768 if len(y) else 0.0
    return 20 * np.log10(max(peak, 1e-9))


def level_line(peak: float) -> str:
    """One line: the take's peak against :data:`PEAK_TARGET_DBFS`, and what to do about it."""
    lo, hi = PEAK_TARGET_DBFS
    meter = "#" * int(max(0, min(30, (peak + 60) * 30 / 60)))
    head = (f"|{meter:<30}| speech peaks should sit between {lo:g} and {hi:g} dBFS; "
            f"this take peaked at {peak:.0f} dBFS")
    if peak < lo:
        return head + ": move closer or flash with --mic-gain"
    if peak > hi:
        return head + ": move back a little or flash with a lower --mic-gain"
    return head + ": good"


@dataclass
class Take:
    path: Path
    offset: int
    level_dbfs: float
    clipped: int


def _keep_partial_take(cap: AudioCapture, folder: Path, speaker: str, sr: int, say: Callable[[str], None]) -> Take | None:
    """Write the part of an interrupted long take captured so far (at least a second, nothing lost)."""
    from tinykws.data.audio import write_wav

    if cap.lost or cap.count < sr:
        return None
    y = cap.samples()
    path = folder / f"{speaker}_nohash_{next_index(folder, speaker)}.wav"
    write_wav(path, y, sr)
    say(f"stopped early: kept the {len(y) / sr:.1f} s recorded so far in {path}")
    return Take(path, 0, level_dbfs(y), int(np.count_nonzero(np.abs(y) >= CLIP_THRESHOLD)))


def record(link, *, label: str, count: int, out: Path, speaker: str | None = None, countdown_s: float = 2.0,
           capture_s: float = 1.5, seconds: float | None = None, say: Callable[[str], None] = print,
           max_retakes: int = 3, sample_rate: int | None = None, clip_ms: int = DEFAULT_SPEC.clip_ms) -> list[Take]:
    """Record ``count`` clips (or one ``seconds``-long take) of ``label`` into dataset ``out``.

    ``link`` is a :class:`tinykws.board.serialio.BoardLink` (the sample rate is the board's, from its
    ``BOOT``/``INFO`` line) or any object with ``send``/``poll``/``wait_for`` (the laptop microphone:
    its ``sr``, else ``sample_rate``, else the default spec's). Clips are ``clip_ms`` long.
    """
    from tinykws.data.audio import sample_rate_problem, write_wav

    check_label(label, "--label")
    speaker = check_name(speaker or default_speaker(), "speaker")
    if seconds is not None and label not in ("_background_noise_", "_silence_"):
        raise UserError("--seconds records long takes for _background_noise_ (or _silence_); use --count for words")
    folder = Path(out) / label
    takes: list[Take] = []
    started = False
    try:
        if hasattr(link, "hello"):
            boot = link.hello(say=say)
            if boot is None:
                raise UserError("the board did not answer `info`: is it running tinykws firmware? (`tinykws flash`)")
            sr = int(boot.sr)
            bad_rate = sample_rate_problem(sr)
            if bad_rate:  # a board whose BOOT says sr=0 would only fail later, writing the first WAV
                raise UserError(f"the board's {boot.tag} line says sr={boot.sr}: {bad_rate}; "
                                "its firmware is damaged or not tinykws's (reflash it: `tinykws flash`)")
        else:
            sr = int(sample_rate or getattr(link, "sr", None) or DEFAULT_SPEC.sample_rate)
            bad_rate = sample_rate_problem(sr)
            if bad_rate:
                raise UserError(f"the microphone's {bad_rate}")
        clip_n = sr * clip_ms // 1000
        folder.mkdir(parents=True, exist_ok=True)
        is_start = lambda a: a.cmd == "rec"  # noqa: E731
        started = True  # from here on `rec stop` is owed, answered or not
        if hasattr(link, "request"):
            ack = link.request(encode_command("rec", "start"), Ack, is_start, timeout_s=3.0, say=say)
        else:
            link.send(encode_command("rec", "start"))
            ack = link.wait_for(Ack, 3.0, is_start)
        if ack is None:
            raise UserError("the board did not answer `rec start`: is it running tinykws firmware? (`tinykws flash`)")

        def restart_recording() -> None:
            say("the board restarted during recording; starting again (this take is retaken)")
            link.send(encode_command("rec", "start"))

        cap = AudioCapture(link, on_restart=restart_recording)
        if seconds is not None:
            say(f"recording {seconds:g} s of {label} ...")
            cap.clear()
            try:
                y = cap.take(int(seconds * sr), seconds + 5)
            except (KeyboardInterrupt, UserError):
                # Ctrl-C (or the board going away) late in a long take: the part captured is still a recording.
                kept = _keep_partial_take(cap, folder, speaker, sr, say)
                if kept is not None:
                    takes.append(kept)
                raise
            if y is None:
                raise UserError("audio was lost during the take (a chunk missed or failed its CRC): try again, "
                                "with a shorter take or a faster serial link")
            path = folder / f"{speaker}_nohash_{next_index(folder, speaker)}.wav"
            write_wav(path, y, sr)
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
            y = cap.take(max(int(capture_s * sr), clip_n), capture_s + 5)
            if y is None:
                retakes += 1
                say("audio was lost during this take (missing chunk, bad CRC or a restart): retake")
                if retakes > max_retakes:
                    raise UserError("audio keeps getting lost: check the cable and the serial speed (ESP32: 921600 baud)")
                continue
            clip, offset = loudest_window(y, clip_n)
            lvl = level_dbfs(clip)
            clipped = int(np.count_nonzero(np.abs(clip) >= CLIP_THRESHOLD))
            say(level_line(peak_dbfs(clip)))
            if lvl < SILENCE_DBFS:
                retakes += 1
                say("nothing heard (silence): retake, a little closer to the microphone")
                if retakes > max_retakes:
                    raise UserError("only silence from the microphone: check the wiring / gain")
                continue
            if clipped:
                say(f"warning: {clipped} samples clipped; speak a little further from the microphone")
            path = folder / f"{speaker}_nohash_{next_index(folder, speaker)}.wav"
            write_wav(path, clip, sr)
            takes.append(Take(path, offset, lvl, clipped))
            say(f"wrote {path}")
            i += 1
            retakes = 0
        return takes
    except UserError as e:
        if takes:
            raise UserError(f"{e}; the {len(takes)} clip(s) recorded before are kept in {folder}") from None
        raise
    finally:
        if started:
            try:
                link.send(encode_command("rec", "stop"))
            except Exception:
                pass
