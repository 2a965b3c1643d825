"""The laptop's own microphone as a recording source (``tinykws record --source laptop``).

It behaves like a board link in recording mode: ``rec start`` opens a 16 kHz
mono int16 input stream through ``sounddevice`` (PortAudio), and the audio comes
back as the same :class:`~tinykws.board.protocol.Audio` records a board sends,
so :func:`tinykws.board.record.record` works unchanged. A PortAudio overflow
marks the chunk as lost (a retake), like a failed CRC from a board.
"""

from __future__ import annotations

import queue
import time
import zlib

import numpy as np

from tinykws.board.protocol import Ack, Audio
from tinykws.errors import UserError


def _sounddevice():
    try:
        import sounddevice
    except (ImportError, OSError):
        raise UserError("--source laptop needs sounddevice and PortAudio: pip install 'tinykws[laptop-mic]' "
                        "(Linux: also apt install libportaudio2)") from None
    return sounddevice


class LaptopMic:
    def __init__(self, sr: int = 16000, device=None, block: int = 256):
        self.sd = _sounddevice()
        self.sr, self.device, self.block = sr, device, block
        self.q: queue.Queue = queue.Queue()
        self.stream = None
        self.seq = 0

    def _callback(self, indata, frames, time_info, status):
        samples = np.asarray(indata[:, 0], np.int16).copy()
        crc = zlib.crc32(samples.astype("<i2").tobytes())
        # An input overflow means PortAudio dropped audio: report it like a chunk that failed its CRC.
        self.q.put(Audio(self.seq, len(samples), crc, samples, crc_ok=not status.input_overflow))
        self.seq += 1

    def send(self, data: bytes) -> None:
        cmd = data.decode().strip()
        if cmd == "rec start":
            try:
                self.stream = self.sd.InputStream(samplerate=self.sr, channels=1, dtype="int16", blocksize=self.block,
                                                  device=self.device, callback=self._callback)
                self.stream.start()
            except Exception as e:
                raise UserError(f"cannot open the laptop microphone: {e}") from None
            self.seq = 0
            self.q.put(Ack("rec", "start"))
        elif cmd == "rec stop":
            if self.stream is not None:
                self.stream.stop()
                self.stream.close()
                self.stream = None
            self.q.put(Ack("rec", "stop"))

    def poll(self, raw_lines=None):
        out = []
        try:
            out.append(self.q.get(timeout=0.05))
            while True:
                out.append(self.q.get_nowait())
        except queue.Empty:
            pass
        return out

    def wait_for(self, kind, timeout_s: float, predicate=None, raw_lines=None):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for r in self.poll():
                if isinstance(r, kind) and (predicate is None or predicate(r)):
                    return r
        return None

    def close(self) -> None:
        if self.stream is not None:
            self.send(b"rec stop\n")
