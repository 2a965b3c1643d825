"""--source laptop: the record path with a stand-in sounddevice module (no microphone on test machines)."""

import sys
import threading
import time
import types

import numpy as np
import soundfile as sf


class FakeStatus:
    input_overflow = False


def fake_sounddevice(audio):
    mod = types.ModuleType("sounddevice")

    class InputStream:
        def __init__(self, samplerate, channels, dtype, blocksize, device, callback):
            self.cb, self.block, self.pos, self.run = callback, blocksize, 0, False

        def start(self):
            self.run = True

            def feed():
                while self.run:
                    chunk = audio[self.pos : self.pos + self.block]
                    if len(chunk) < self.block:
                        self.pos = 0
                        continue
                    self.pos += self.block
                    self.cb(chunk.reshape(-1, 1), self.block, None, FakeStatus())
                    time.sleep(self.block / 16000)

            self.t = threading.Thread(target=feed, daemon=True)
            self.t.start()

        def stop(self):
            self.run = False
            self.t.join()

        def close(self):
            pass

    mod.InputStream = InputStream
    return mod


def test_record_from_laptop_microphone(tmp_path, monkeypatch):
    from tests.helpers import keyword_stream
    from tinykws.board.laptop_mic import LaptopMic
    from tinykws.board.record import record
    from tinykws.data.audio import to_int16

    y, _ = keyword_stream(["up", "down", "up"], gap_s=0.8)
    audio = to_int16(y)
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(audio))
    mic = LaptopMic()
    takes = record(mic, label="up", count=2, out=tmp_path, speaker="me", countdown_s=0.2, say=lambda s: None)
    mic.close()
    assert len(takes) == 2
    for t in takes:
        clip = sf.read(t.path, dtype="int16")[0]
        assert len(clip) == 16000
        assert any(np.array_equal(audio[i : i + 16000], clip) for i in np.nonzero(audio == clip[0])[0] if i + 16000 <= len(audio))


def test_missing_sounddevice_is_a_clear_error(monkeypatch):
    import pytest

    from tinykws.board.laptop_mic import LaptopMic
    from tinykws.errors import UserError

    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(UserError, match="laptop-mic"):
        LaptopMic()
