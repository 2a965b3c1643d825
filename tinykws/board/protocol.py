"""Host side of the serial protocol (docs/protocol.md): parse what the board says.

:func:`parse_line` turns one line into a typed record, or ``None`` for anything
it does not understand (noise at boot, a user's own prints, a torn line, a label
that could not be a label, a number out of the range the firmware can send): it
never raises. :class:`LineReader` takes raw bytes as they arrive from the port
and yields records, resynchronising at the next newline after garbage, a line
longer than the protocol allows, or bytes that are not ASCII.
:class:`BootFilter` refuses ``INF``/``DET`` lines naming a label the board's
last ``BOOT`` did not. ``tinykws monitor`` (live) and ``tinykws report`` (from the
log) both read through :func:`parse_board_line` and :class:`BootFilter`, so they
count the same detections and the same protocol errors.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from tinykws.errors import UserError
from tinykws.labels import is_label

PROTOCOL_VERSION = 1
LINE_MAX = 1024
#: The firmware's counters and times are uint32.
UINT_MAX = 0xFFFFFFFF
#: What the monitor log holds in place of a line the reader dropped for being longer than LINE_MAX.
OVERLONG = "<line over 1024 bytes, dropped>"


@dataclass(frozen=True)
class Boot:
    """A ``BOOT``/``INFO`` line. The last four fields are optional on the line (newer firmware):
    ``engine`` (what runs the model, ``None`` if not said), ``weights_crc`` (CRC-32 of the weights,
    ``None`` if not said), ``labels_cut`` (how many labels the board left out of ``labels``
    because the line was full; 0 when ``labels`` is complete) and ``reset`` (why the board last
    reset: ``wdt`` when its watchdog did; ``None`` if not said)."""

    tag: str  # "BOOT" or "INFO"
    proto: int
    board: str
    fw: str
    model: str
    spec: str
    labels: tuple[str, ...]
    arena_used: int
    arena_size: int
    mic: str
    sr: int
    status: str
    engine: str | None = None
    weights_crc: int | None = None
    labels_cut: int = 0
    reset: str | None = None  # why the board last reset ("power", "pin", "wdt", ...; None: older firmware)


@dataclass(frozen=True)
class Inference:
    t_ms: int
    feat_us: int
    inf_us: int
    total_us: int
    top: str
    score: float


@dataclass(frozen=True)
class Detection:
    t_ms: int
    label: str
    score: float


@dataclass(frozen=True)
class Stats:
    t_ms: int
    inferences: int
    rate_hz: float
    detections: int
    dropped: int
    overflows: int
    mode: str
    skipped: int | None = None  # inferences skipped because the engine was behind (None: older firmware)
    tx_dropped: int | None = None  # lines dropped because the host was not reading (None: older firmware)


@dataclass(frozen=True)
class Audio:
    seq: int
    n: int
    crc: int
    samples: np.ndarray = field(compare=False)
    crc_ok: bool = True


@dataclass(frozen=True)
class Ack:
    cmd: str
    value: str


@dataclass(frozen=True)
class Error:
    code: str
    msg: str


Line = Union[Boot, Inference, Detection, Stats, Audio, Ack, Error]


def _fields(rest: str, last_free: str | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    if last_free and f" {last_free}=" in " " + rest:
        i = (" " + rest).index(f" {last_free}=")
        head, free = rest[: max(i - 1, 0)], rest[i + len(last_free) + 1 :]
        out[last_free] = free
        rest = head
    for tok in rest.split(" "):
        if not tok:
            continue
        k, sep, v = tok.partition("=")
        if not sep or not k:
            raise ValueError(tok)
        out.setdefault(k, v)
    return out


def _uint(v: str) -> int:
    if not v.isdigit() or len(v) > 10 or int(v) > UINT_MAX:
        raise ValueError(v)
    return int(v)


def _opt_uint(f: dict[str, str], key: str) -> int | None:
    return _uint(f[key]) if key in f else None


def _hex32(v: str) -> int:
    if len(v) != 8 or any(c not in "0123456789abcdef" for c in v):
        raise ValueError(v)
    return int(v, 16)


def _score(v: str) -> float:
    """A score: a probability, 0 to 1."""
    f = float(v)
    if not 0.0 <= f <= 1.0:
        raise ValueError(v)
    return f


def _rate(v: str) -> float:
    f = float(v)
    if not 0.0 <= f <= 1e6:
        raise ValueError(v)
    return f


def _label(v: str) -> str:
    if not is_label(v):
        raise ValueError(v)
    return v


def parse_line(line: bytes | str) -> Line | None:
    """One protocol line (with or without its newline) to a record; ``None`` if not understood."""
    try:
        if isinstance(line, bytes):
            line = line.decode("ascii")
        line = line.rstrip("\r\n")
        if not line or len(line) > LINE_MAX or not line.isascii() or not line.isprintable():
            return None
        tag, _, rest = line.partition(" ")
        if tag in ("BOOT", "INFO"):
            f = _fields(rest)
            return Boot(tag, _uint(f["proto"]), f["board"], f["fw"], f["model"], f["spec"],
                        tuple(_label(x) for x in f["labels"].split(",") if x), _uint(f["arena_used"]), _uint(f["arena_size"]),
                        f["mic"], _uint(f["sr"]), f["status"], f.get("engine"),
                        _hex32(f["weights_crc"]) if "weights_crc" in f else None, _opt_uint(f, "labels_cut") or 0,
                        f.get("reset"))
        if tag == "INF":
            f = _fields(rest)
            return Inference(_uint(f["t_ms"]), _uint(f["feat_us"]), _uint(f["inf_us"]), _uint(f["total_us"]),
                             _label(f["top"]), _score(f["score"]))
        if tag == "DET":
            f = _fields(rest)
            return Detection(_uint(f["t_ms"]), _label(f["label"]), _score(f["score"]))
        if tag == "STAT":
            f = _fields(rest)
            return Stats(_uint(f["t_ms"]), _uint(f["inferences"]), _rate(f["rate_hz"]), _uint(f["detections"]),
                         _uint(f["dropped"]), _uint(f["overflows"]), f["mode"], _opt_uint(f, "skipped"),
                         _opt_uint(f, "tx_dropped"))
        if tag == "AUD":
            f = _fields(rest)
            raw = base64.b64decode(f["data"], validate=True)
            n = _uint(f["n"])
            if len(raw) != 2 * n:
                return None
            crc = int(f["crc"], 16)
            samples = np.frombuffer(raw, "<i2").astype(np.int16)
            return Audio(_uint(f["seq"]), n, crc, samples, zlib.crc32(raw) == crc)
        if tag == "ACK":
            f = _fields(rest)
            return Ack(f["cmd"], f["value"])
        if tag == "ERR":
            f = _fields(rest, last_free="msg")
            return Error(f["code"], f.get("msg", ""))
    except (KeyError, ValueError, UnicodeDecodeError, binascii.Error, OverflowError):
        return None
    return None


def parse_board_line(raw: bytes | str) -> Line | None:
    """:func:`parse_line`, and the ``BOOT`` of a board that reset mid-line, glued to the torn line's tail."""
    rec = parse_line(raw)
    mark = b"BOOT proto=" if isinstance(raw, bytes) else "BOOT proto="
    if rec is None and mark in raw[1:]:
        rec = parse_line(raw[raw.rindex(mark) :])
    return rec


class BootFilter:
    """Refuses ``INF`` and ``DET`` records whose label the board's last ``BOOT``/``INFO`` did not list.

    Such a line is corrupt (or from another program on the port): it must not count as a detection.
    Before any ``BOOT``, and for labels past a ``labels_cut`` list, there is nothing to check against.
    ``refused`` counts the records refused.
    """

    def __init__(self):
        self.boot: Boot | None = None
        self.refused = 0

    def accepts(self, rec: Line) -> bool:
        if isinstance(rec, Boot):
            self.boot = rec
            return True
        label = rec.label if isinstance(rec, Detection) else rec.top if isinstance(rec, Inference) else None
        if label is None or self.boot is None or self.boot.labels_cut or label in self.boot.labels:
            return True
        self.refused += 1
        return False


class LineReader:
    """Feed raw serial bytes, get parsed records back.

    Keeps at most one partial line; a line longer than :data:`LINE_MAX` is
    dropped up to its newline. ``raw_lines`` (if given a list) receives every
    complete line as text, understood or not, for logging.
    """

    def __init__(self):
        self._buf = bytearray()
        self._skipping = False
        self.bad_lines = 0

    def feed(self, data: bytes, raw_lines: list[str] | None = None) -> list[Line]:
        out: list[Line] = []
        self._buf.extend(data)
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                if len(self._buf) > LINE_MAX:
                    self._buf.clear()
                    self._skipping = True
                break
            raw = bytes(self._buf[:i])
            del self._buf[: i + 1]
            if self._skipping:
                self._skipping = False
                self.bad_lines += 1
                if raw_lines is not None:
                    raw_lines.append(OVERLONG)  # so a report of the log counts it too
                continue
            if raw_lines is not None:
                raw_lines.append(raw.decode("ascii", "replace").rstrip("\r"))
            rec = parse_board_line(raw)
            if rec is None:
                if raw.strip():
                    self.bad_lines += 1
                continue
            out.append(rec)
        return out


class AudioAssembler:
    """Joins ``AUD`` chunks into contiguous audio and notices when any was lost.

    A gap in ``seq`` (modulo 2**32), a chunk with a bad CRC, or a ``BOOT`` line
    (the board reset: whatever came before is not continuous with what follows)
    set :attr:`lost`; the host must then retake rather than pad over the hole.
    Sequence state also restarts on ``ACK cmd=rec value=start`` (``seq`` starts
    from 0 again). :meth:`clear` empties the buffer and the flag but keeps the
    expected ``seq``, so a take that begins mid-stream stays checked.
    """

    def __init__(self):
        self.next_seq: int | None = None
        self.chunks: list[np.ndarray] = []
        self.count = 0  # samples held
        self.lost = False
        self.lost_chunks = 0  # since creation: gaps (counted in chunks) plus bad CRCs

    def clear(self) -> None:
        self.chunks, self.count, self.lost = [], 0, False

    def add(self, rec: Line) -> None:
        """Take one parsed record; anything other than Audio/Boot/rec-start Ack is ignored."""
        if isinstance(rec, Boot) and rec.tag == "BOOT":
            self.next_seq = None
            self.lost = self.lost or self.count > 0
            return
        if isinstance(rec, Ack) and rec.cmd == "rec" and rec.value == "start":
            self.next_seq = None
            return
        if not isinstance(rec, Audio):
            return
        if self.next_seq is not None and rec.seq != self.next_seq:
            self.lost = True
            self.lost_chunks += (rec.seq - self.next_seq) & 0xFFFFFFFF
        self.next_seq = (rec.seq + 1) & 0xFFFFFFFF
        if not rec.crc_ok:
            self.lost = True
            self.lost_chunks += 1
            return  # its samples are not to be trusted
        self.chunks.append(rec.samples)
        self.count += rec.n

    def samples(self) -> np.ndarray:
        """All samples held, int16 [count]."""
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)


def encode_audio(seq: int, samples: np.ndarray) -> bytes:
    """An ``AUD`` line for int16 ``samples`` [n] (the host-side twin of the firmware encoder, for tests)."""
    raw = np.asarray(samples, "<i2").tobytes()
    return (f"AUD seq={seq & 0xFFFFFFFF} n={len(raw) // 2} crc={zlib.crc32(raw):08x} "
            f"data={base64.b64encode(raw).decode('ascii')}\n").encode("ascii")


def format_threshold(x: float) -> str:
    """A threshold as the board writes it (``ACK cmd=thr``): 3 to 6 decimals, trailing zeros past the
    third dropped (0.8 -> ``0.800``, 0.0004 -> ``0.0004``)."""
    s = f"{float(x):.6f}"
    head, frac = s.split(".")
    return f"{head}.{frac[:3]}{frac[3:].rstrip('0')}"


def ack_threshold(ack: Ack) -> float:
    """The threshold an ``ACK cmd=thr`` says the board now uses."""
    if ack.cmd != "thr":
        raise ValueError(ack.cmd)
    return float(ack.value)


def encode_command(cmd: str, arg: str | float | None = None) -> bytes:
    """A host command line: ``info``, ``rec start|stop``, ``mode infer|idle``, ``thr X``.

    ``thr`` is sent with up to 6 decimals (what the board honours and acknowledges)."""
    if cmd == "thr":
        x = float(arg)
        if not 0.0000005 <= x <= 1:
            raise UserError("threshold must be in (0, 1] (at least 0.000001)")
        return f"thr {format_threshold(x)}\n".encode()
    if cmd in ("rec", "mode"):
        return f"{cmd} {arg}\n".encode()
    if cmd == "info":
        return b"info\n"
    raise ValueError(cmd)


def crc32_value(v: int | str | None) -> int | None:
    """A CRC-32 as an int, from an int or the 8-digit hex string ``model.json`` stores; ``None`` stays ``None``."""
    if v is None or isinstance(v, int):
        return v
    try:
        return _hex32(str(v))
    except (ValueError, KeyError) as e:
        raise UserError(f"not a CRC-32: {v!r} (8 hex digits expected)") from e


def check_identity(boot: Boot, expected_model_sha256: str | None = None, *, engine: str | None = None,
                   weights_crc32: int | str | None = None, spec_sha256: str | None = None,
                   labels: tuple[str, ...] | list[str] | None = None, sample_rate: int | None = None) -> None:
    """Refuse, with one clear line, a board speaking another protocol or running another model.

    ``engine`` and ``weights_crc32`` (the export's CRC of the native engine's weights, an int or
    ``model.json``'s hex string) are checked when the board reports them: a native build recomputes
    the CRC from its flash at boot. ``spec_sha256``, ``labels`` and ``sample_rate`` are the run's:
    a board computing other features, naming other classes or sampling at another rate is refused
    even where the model hash matches.
    """
    if boot.proto != PROTOCOL_VERSION:
        raise UserError(f"the board speaks protocol v{boot.proto}, this tinykws speaks v{PROTOCOL_VERSION}: "
                        "update tinykws or re-flash the board with `tinykws flash`")
    if expected_model_sha256 and boot.model != expected_model_sha256:
        raise UserError(f"the board runs model {boot.model[:12]}, the run has {expected_model_sha256[:12]}: "
                        "flash it with `tinykws flash --run RUN`")
    if boot.status != "ok":
        raise UserError(f"the board reports a fault at boot: {boot.status} (see docs/protocol.md)")
    if engine is not None and boot.engine is not None and boot.engine != engine:
        raise UserError(f"the board runs the {boot.engine} engine, this flash asked for {engine}: "
                        "it still runs an older firmware (the upload did not take); flash again")
    want_crc = crc32_value(weights_crc32)
    if want_crc is not None and boot.weights_crc is not None and boot.weights_crc != want_crc:
        raise UserError(f"the board's weights CRC is {boot.weights_crc:08x}, the export's {want_crc:08x}: "
                        "the build did not take this model folder; flash again")
    if spec_sha256 and boot.spec != spec_sha256:
        raise UserError(f"the board computes features of spec {boot.spec[:12]}, the run's is {spec_sha256[:12]}: "
                        "the firmware was built with another kws_feature_spec.h; flash again")
    if labels is not None and boot.labels_cut == 0 and tuple(boot.labels) != tuple(labels):
        raise UserError(f"the board's labels are {','.join(boot.labels)}, the run's {','.join(labels)}: "
                        "flash it with `tinykws flash --run RUN`")
    if labels is not None and boot.labels_cut and tuple(boot.labels) != tuple(labels)[: len(boot.labels)]:
        raise UserError(f"the board's labels begin {','.join(boot.labels)}, the run's {','.join(labels)}: "
                        "flash it with `tinykws flash --run RUN`")
    if sample_rate is not None and boot.sr != sample_rate:
        raise UserError(f"the board samples at {boot.sr} Hz, the run's model wants {sample_rate} Hz: "
                        "check the port's microphone setup, then flash again")
