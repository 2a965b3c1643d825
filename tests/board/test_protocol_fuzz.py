"""The host parser never crashes and finds valid lines in any garbage."""

import zlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykws.board.protocol import (Ack, Audio, Boot, Detection, Error, Inference, LineReader, Stats, check_identity,
                                    encode_audio, parse_line)

VALID = [
    b"INF t_ms=100 feat_us=5 inf_us=40 total_us=50 top=yes score=0.900\n",
    b"DET t_ms=200 label=no score=0.812\n",
    b"BOOT proto=1 board=sim fw=0.1.0 model=ab spec=cd labels=yes,no arena_used=1 arena_size=2 mic=wav sr=16000 status=ok\n",
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_parse_line_never_raises(data):
    parse_line(data)
    LineReader().feed(data)


# Every kind of line, and what each must parse to, field for field.
PCM = np.arange(-4, 4, dtype=np.int16) * 4097
AUD = encode_audio(3, PCM)
STREAM_LINES = [
    (VALID[0], Inference(100, 5, 40, 50, "yes", 0.9)),
    (VALID[1], Detection(200, "no", 0.812)),
    (VALID[2], Boot("BOOT", 1, "sim", "0.1.0", "ab", "cd", ("yes", "no"), 1, 2, "wav", 16000, "ok")),
    (b"STAT t_ms=5000 inferences=49 rate_hz=9.8 detections=1 dropped=320 overflows=2 mode=infer skipped=3 "
     b"tx_dropped=4\n", Stats(5000, 49, 9.8, 1, 320, 2, "infer", 3, 4)),
    (b"ACK cmd=thr value=0.500\n", Ack("thr", "0.500")),
    (b"ERR code=mic msg=microphone did not start\n", Error("mic", "microphone did not start")),
    (AUD, Audio(3, 8, zlib.crc32(PCM.astype("<i2").tobytes()), PCM)),
    (b"INFO proto=1 board=nano33ble fw=0.2.0 model=ab spec=cd labels=yes,no arena_used=7 arena_size=8 mic=pdm "
     b"sr=16000 status=arena engine=native weights_crc=826509c4\n",
     Boot("INFO", 1, "nano33ble", "0.2.0", "ab", "cd", ("yes", "no"), 7, 8, "pdm", 16000, "arena", "native",
          0x826509C4)),
]
# Garbage lines: anything without a newline that is not itself a line the host understands.
GARBAGE = st.binary(max_size=200).filter(lambda b: b"\n" not in b and parse_line(b) is None)


@settings(max_examples=200, deadline=None)
@given(st.lists(GARBAGE, min_size=len(STREAM_LINES) + 1, max_size=len(STREAM_LINES) + 1),
       st.lists(st.integers(1, 50), min_size=1, max_size=20))
def test_valid_lines_survive_garbage_and_any_chunking(garbage, cuts):
    stream = b"".join(g + b"\n" + line for g, (line, _) in zip(garbage, STREAM_LINES)) + garbage[-1]
    r = LineReader()
    out, pos, i = [], 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        out += r.feed(stream[pos : pos + step])
        pos += step
        i += 1
    # Every valid line, once, in order, every field as sent; the garbage yields nothing.
    assert out == [rec for _, rec in STREAM_LINES]
    audio = out[[type(x) for x in out].index(Audio)]
    assert audio.crc_ok and np.array_equal(audio.samples, PCM)


def test_overlong_line_and_reset_mid_line():
    r = LineReader()
    got = r.feed(b"INF t_ms=1" + b"x" * 5000 + b"\n" + VALID[1])
    assert got == [Detection(200, "no", 0.812)]
    # A reset mid-line: the torn line and the board's BOOT arrive glued together; the BOOT is still read.
    got = r.feed(b"INF t_ms=100 feat_us=5 inf\x00\xff" + VALID[2])
    assert [type(g) for g in got] == [Boot] and got[0].board == "sim"
    assert isinstance(r.feed(VALID[2])[0], Boot)


def test_identity_checks():
    import pytest

    from tinykws.errors import UserError

    b = parse_line(VALID[2])
    check_identity(b, "ab")
    with pytest.raises(UserError, match="flash it"):
        check_identity(b, "ff")
    with pytest.raises(UserError, match="protocol v2"):
        check_identity(parse_line(VALID[2].replace(b"proto=1", b"proto=2")), "ab")


def test_identity_checks_engine_and_weights_crc():
    import pytest

    from tinykws.errors import UserError

    line = VALID[2].rstrip(b"\n") + b" engine=native weights_crc=826509c4\n"
    b = parse_line(line)
    check_identity(b, "ab", engine="native", weights_crc32=0x826509C4)
    check_identity(b, "ab", engine="native", weights_crc32="826509c4")  # as model.json stores it, as flash() passes it
    check_identity(parse_line(VALID[2]), "ab", engine="native", weights_crc32=0x826509C4)  # an older board says neither
    with pytest.raises(UserError, match="weights CRC is 826509c4, the export's 00000001"):
        check_identity(b, "ab", engine="native", weights_crc32=1)
    with pytest.raises(UserError, match="weights CRC is 826509c4, the export's 00000001"):
        check_identity(b, "ab", engine="native", weights_crc32="00000001")
    with pytest.raises(UserError, match="not a CRC-32"):
        check_identity(b, "ab", engine="native", weights_crc32="lots")
    with pytest.raises(UserError, match="runs the native engine, this flash asked for tflm"):
        check_identity(b, "ab", engine="tflm")


def test_absurd_values_are_not_protocol():
    """What a board cannot send is garbage, not a record: a label that is no label, a number past uint32,
    a score that is no probability, text that is not ASCII (as a log read back holds it)."""
    for line in [
        "DET t_ms=1 label=" + "x" * 900 + " score=0.9",
        "DET t_ms=1 label=y\ufffd\ufffds score=0.9",
        "DET t_ms=1 label=yés score=0.9",
        "DET t_ms=1 label=yes score=5.0",
        "INF t_ms=1 feat_us=5 inf_us=100000000000000000000 total_us=50 top=yes score=0.9",
        "INF t_ms=4294967296 feat_us=5 inf_us=1 total_us=50 top=yes score=0.9",
        "INF t_ms=1 feat_us=5 inf_us=1 total_us=50 top=a,b score=0.9",
        "BOOT proto=1 board=sim fw=0.1.0 model=ab spec=cd labels=yes,n\u00f6 arena_used=1 arena_size=2 mic=wav sr=16000 status=ok",
        "BOOT proto=1 board=s\u00efm fw=0.1.0 model=ab spec=cd labels=yes,no arena_used=1 arena_size=2 mic=wav sr=16000 status=ok",
    ]:
        assert parse_line(line) is None, line
    assert parse_line("INF t_ms=4294967295 feat_us=5 inf_us=1 total_us=50 top=yes score=1.0").t_ms == 4294967295
