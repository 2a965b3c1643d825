"""Host parser: the fields appended to BOOT and STAT, old lines without them, and thresholds."""

from tinykws.board.protocol import Ack, Boot, Stats, ack_threshold, encode_command, format_threshold, parse_line

OLD_BOOT = "BOOT proto=1 board=sim fw=0.1.0 model=ab spec=cd labels=yes,no arena_used=1 arena_size=2 mic=wav sr=16000 status=ok"


def test_boot_appended_fields():
    b = parse_line(OLD_BOOT + " engine=native weights_crc=00c0ffee labels_cut=3\n")
    assert isinstance(b, Boot) and (b.engine, b.weights_crc, b.labels_cut) == ("native", 0xC0FFEE, 3)
    old = parse_line(OLD_BOOT)
    assert (old.engine, old.weights_crc, old.labels_cut) == (None, None, 0)
    assert parse_line(OLD_BOOT + " weights_crc=xyz") is None  # a malformed known field: not understood
    assert parse_line(OLD_BOOT + " future=1").status == "ok"  # unknown extra fields are accepted


def test_stat_appended_fields():
    base = "STAT t_ms=5000 inferences=20 rate_hz=4.0 detections=0 dropped=0 overflows=0 mode=infer"
    assert parse_line(base + " skipped=30 tx_dropped=2") == Stats(5000, 20, 4.0, 0, 0, 0, "infer", 30, 2)
    assert parse_line(base).skipped is None and parse_line(base).tx_dropped is None


def test_thresholds_keep_their_digits():
    assert encode_command("thr", 0.0004) == b"thr 0.0004\n"
    assert encode_command("thr", 0.8) == b"thr 0.800\n"
    assert format_threshold(0.123456789) == "0.123457"
    assert ack_threshold(parse_line("ACK cmd=thr value=0.0004")) == 0.0004
    assert parse_line("ACK cmd=thr value=0.0004") == Ack("thr", "0.0004")
