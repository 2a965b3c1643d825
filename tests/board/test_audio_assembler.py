"""AUD chunks: CRC, sequence gaps, wrap-around and a board reset mark audio as lost; devices are guessed by USB id."""

import numpy as np

from tinykws.board.protocol import Ack, AudioAssembler, LineReader, parse_line, encode_audio
from tinykws.board.serialio import guess_board

BOOT = b"BOOT proto=1 board=sim fw=0.1.0 model=ab spec=cd labels=yes,no arena_used=1 arena_size=2 mic=wav sr=16000 status=ok\n"


def _chunks(n_chunks, n=256, seq0=0, seed=0):
    rng = np.random.default_rng(seed)
    ys = [rng.integers(-32768, 32767, n, dtype=np.int16) for _ in range(n_chunks)]
    return ys, [encode_audio(seq0 + i, y) for i, y in enumerate(ys)]


def test_round_trip_is_bit_exact_across_seq_wrap():
    ys, lines = _chunks(4, seq0=2**32 - 2)  # seq 4294967294, 4294967295, 0, 1
    asm = AudioAssembler()
    for rec in LineReader().feed(b"".join(lines)):
        asm.add(rec)
    assert not asm.lost and asm.count == 4 * 256
    assert np.array_equal(asm.samples(), np.concatenate(ys))


def test_gap_and_bad_crc_are_detected():
    ys, lines = _chunks(5)
    asm = AudioAssembler()
    for i in (0, 1, 3, 4):  # chunk 2 lost on the wire
        asm.add(parse_line(lines[i]))
    assert asm.lost and asm.lost_chunks == 1

    asm = AudioAssembler()
    asm.add(parse_line(lines[0]))
    # One base64 character changed in chunk 1: still a well-formed line, but the CRC no longer matches.
    i = lines[1].index(b"data=") + 10
    flipped = lines[1][:i] + (b"A" if lines[1][i : i + 1] != b"A" else b"B") + lines[1][i + 1 :]
    r = parse_line(flipped)
    assert r is not None and not r.crc_ok
    asm.add(r)
    assert asm.lost and asm.count == 256  # the corrupt chunk's samples are not kept


def test_board_reset_mid_take_is_a_loss_and_restarts_sequence_state():
    _, lines = _chunks(3)
    asm = AudioAssembler()
    reader = LineReader()
    # A reset tears a line in half, then the board boots and, after `rec start`, counts from 0 again.
    stream = lines[0] + lines[1][:300] + b"\x00\xff" + BOOT + b"ACK cmd=rec value=start\n" + lines[0] + lines[1]
    for rec in reader.feed(stream):
        asm.add(rec)
    assert asm.lost  # the audio before the reset is not continuous with what follows
    asm.clear()
    asm.add(parse_line(lines[2]))  # seq continues from 1 -> 2: fine after clear()
    assert not asm.lost and asm.count == 256
    asm.add(Ack("rec", "start"))
    asm.add(parse_line(lines[0]))
    assert not asm.lost


def test_usb_ids_guess_the_board():
    assert "Nano 33 BLE" in guess_board(0x2341, 0x805A)
    assert "bootloader" in guess_board(0x2341, 0x005A)
    assert "CP210x" in guess_board(0x10C4, 0xEA60)
    assert "CH340" in guess_board(0x1A86, 0x7523)
    assert "CH9102" in guess_board(0x1A86, 0x55D4)
    assert "FTDI" in guess_board(0x0403, 0x6001)
    assert "Espressif" in guess_board(0x303A, 0x1001)
    assert guess_board(0x2341, 0x0043) is None  # an Uno is not a tinykws board
    assert guess_board(None, None) is None
