"""The firmware's portable C core, built for this computer and driven from Python.

The same C files the board compiles (``firmware/lib/kws_core``) are built with
the host C compiler into a shared library, once per (sources, flags, feature
spec), cached under ``$TINYKWS_CACHE/native/`` (default
``~/.cache/tinykws/native/``). The spec's generated header is written into the
build folder, so a run with a non-default FeatureSpec gets a matching core.

API (used by tests, the streaming evaluation and the virtual board):

- :func:`load_core(spec)` -> :class:`Core` (the ctypes library with signatures);
- :class:`StreamingMfcc` ``.push(int16 array) -> frames [k, n_mfcc]``;
- :func:`quantize_window(frames, scale, zero_point) -> int8` (the C rounding);
- :class:`Recognizer` ``.push(scores, t_ms) -> (label, score) | None``;
- :func:`encode_*` wrappers returning the protocol line as ``str``; :func:`parse_command`;
- :class:`App`: the whole application loop with Python callables as audio
  source, inference engine, serial sink and clock.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from tinykws.errors import UserError
from tinykws.paths import cache_dir, core_source_dir
from tinykws.spec import FeatureSpec

CFLAGS = ["-std=c99", "-O2", "-ffp-contract=off", "-fPIC", "-shared", "-Wall", "-Wextra"]


def find_compiler() -> str:
    for c in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if c and shutil.which(c):
            return shutil.which(c)
    raise UserError("no C compiler found: install gcc (or set CC) to build the firmware core for this computer")


def build_core(spec: FeatureSpec) -> Path:
    """Compile the core for ``spec`` (cached); returns the shared library's path."""
    from tinykws.export.spec_header import render_spec_header

    src = core_source_dir()
    files = sorted((src / "src").glob("*.c")) + sorted((src / "include").glob("*.h"))
    header = render_spec_header(spec)
    cc = find_compiler()
    h = hashlib.sha256()
    for f in files:
        if f.name == "kws_feature_spec.h":
            continue
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    h.update(header.encode() + " ".join([cc, *CFLAGS]).encode())
    out = cache_dir("native") / h.hexdigest()[:20] / "libkws_core.so"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        t = Path(tmp)
        for f in files:
            shutil.copy(f, t / f.name)
        (t / "kws_feature_spec.h").write_text(header)
        lib = t / "lib.so"
        cmd = [cc, *CFLAGS, "-I", str(t), *[str(t / f.name) for f in files if f.suffix == ".c"], "-o", str(lib), "-lm"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"building the firmware core failed:\n{' '.join(cmd)}\n{p.stderr}")
        os.replace(lib, out)
    return out


# ctypes mirrors of the C structs -----------------------------------------------------------
class Identity(ctypes.Structure):
    _fields_ = [("board", ctypes.c_char_p), ("fw", ctypes.c_char_p), ("model_hash", ctypes.c_char_p),
                ("spec_hash", ctypes.c_char_p), ("labels_csv", ctypes.c_char_p), ("arena_used", ctypes.c_uint32),
                ("arena_size", ctypes.c_uint32), ("mic", ctypes.c_char_p), ("sample_rate", ctypes.c_uint32),
                ("status", ctypes.c_char_p), ("engine", ctypes.c_char_p), ("weights_crc", ctypes.c_uint32),
                ("reset", ctypes.c_char_p)]


class RecognizerConfig(ctypes.Structure):
    _fields_ = [("n_labels", ctypes.c_int), ("silence_index", ctypes.c_int), ("unknown_index", ctypes.c_int),
                ("average_window_ms", ctypes.c_uint32), ("threshold", ctypes.c_float),
                ("suppression_ms", ctypes.c_uint32), ("min_count", ctypes.c_int)]


class Detection(ctypes.Structure):
    _fields_ = [("label", ctypes.c_int), ("score", ctypes.c_float), ("time_ms", ctypes.c_uint32)]


READ_AUDIO = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_size_t)
MICROS = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p)
WRITE_LINE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t)
INVOKE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int8), ctypes.POINTER(ctypes.c_int8))
ON_DETECTION = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_float)


class Platform(ctypes.Structure):
    _fields_ = [("read_audio", READ_AUDIO), ("micros", MICROS), ("write_line", WRITE_LINE), ("invoke", INVOKE),
                ("on_detection", ON_DETECTION), ("ctx", ctypes.c_void_p)]


class AppConfig(ctypes.Structure):
    _fields_ = [("identity", Identity), ("labels", ctypes.POINTER(ctypes.c_char_p)), ("n_labels", ctypes.c_int),
                ("input_scale", ctypes.c_float), ("input_zero_point", ctypes.c_int), ("output_scale", ctypes.c_float),
                ("output_zero_point", ctypes.c_int), ("stride_ms", ctypes.c_uint32), ("recognizer", RecognizerConfig),
                ("stats_period_ms", ctypes.c_uint32), ("offline", ctypes.c_int)]


@dataclass
class Core:
    lib: ctypes.CDLL
    spec: FeatureSpec
    path: Path


_loaded: dict[str, Core] = {}


def load_core(spec: FeatureSpec | None = None) -> Core:
    """Build (if needed) and load the core for ``spec``."""
    spec = spec or FeatureSpec()
    if spec.sha256 in _loaded:
        return _loaded[spec.sha256]
    path = build_core(spec)
    lib = ctypes.CDLL(str(path))
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    lib.kws_mfcc_push.argtypes = [vp, vp, sz, vp, ctypes.c_int]
    lib.kws_mfcc_push.restype = ctypes.c_int
    lib.kws_quantize_value.argtypes = [ctypes.c_float, ctypes.c_float, ctypes.c_int]
    lib.kws_quantize_value.restype = ctypes.c_int8
    lib.kws_window_push.argtypes = [vp, vp]
    lib.kws_window_quantize.argtypes = [vp, ctypes.c_float, ctypes.c_int, vp]
    lib.kws_recognizer_init.argtypes = [vp, ctypes.POINTER(RecognizerConfig)]
    lib.kws_recognizer_push.argtypes = [vp, vp, ctypes.c_uint32, ctypes.POINTER(Detection)]
    lib.kws_recognizer_set_threshold.argtypes = [vp, ctypes.c_float]
    for name in ("kws_encode_boot", "kws_encode_inference", "kws_encode_detection", "kws_encode_stats",
                 "kws_encode_audio", "kws_encode_ack", "kws_encode_error", "kws_format_fixed3", "kws_format_threshold",
                 "kws_base64"):
        getattr(lib, name).restype = sz
    lib.kws_encode_boot.argtypes = [ctypes.c_char_p, sz, ctypes.c_char_p, ctypes.POINTER(Identity)]
    lib.kws_encode_inference.argtypes = [ctypes.c_char_p, sz] + [ctypes.c_uint32] * 4 + [ctypes.c_char_p, ctypes.c_float]
    lib.kws_encode_detection.argtypes = [ctypes.c_char_p, sz, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_float]
    lib.kws_encode_stats.argtypes = [ctypes.c_char_p, sz, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_float,
                                     ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint32,
                                     ctypes.c_uint32]
    lib.kws_format_threshold.argtypes = [ctypes.c_char_p, sz, ctypes.c_float]
    lib.kws_encode_audio.argtypes = [ctypes.c_char_p, sz, ctypes.c_uint32, vp, sz]
    lib.kws_encode_ack.argtypes = [ctypes.c_char_p, sz, ctypes.c_char_p, ctypes.c_char_p]
    lib.kws_encode_error.argtypes = [ctypes.c_char_p, sz, ctypes.c_char_p, ctypes.c_char_p]
    lib.kws_crc32.argtypes = [vp, sz]
    lib.kws_crc32.restype = ctypes.c_uint32
    lib.kws_app_init.argtypes = [vp, ctypes.POINTER(AppConfig), ctypes.POINTER(Platform)]
    lib.kws_app_step.argtypes = [vp]
    lib.kws_app_step.restype = sz
    lib.kws_app_command.argtypes = [vp, ctypes.c_char_p]
    lib.kws_app_add_dropped.argtypes = [vp, ctypes.c_uint32]
    lib.kws_app_add_overflow.argtypes = [vp]
    lib.kws_app_add_tx_dropped.argtypes = [vp, ctypes.c_uint32]
    lib.kws_app_fail.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p]
    lib.kws_app_time_ms.argtypes = [vp]
    lib.kws_app_time_ms.restype = ctypes.c_uint32
    core = Core(lib, spec, path)
    _loaded[spec.sha256] = core
    return core


# State buffers are opaque to Python: generous fixed sizes, checked against the C sizes below.
_STATE_BYTES = 1 << 20


def _state() -> ctypes.Array:
    return ctypes.create_string_buffer(_STATE_BYTES)


class StreamingMfcc:
    """The C streaming MFCC. ``push`` takes int16 PCM of any length and returns the frames it completed."""

    def __init__(self, spec: FeatureSpec | None = None):
        self.core = load_core(spec)
        self.spec = self.core.spec
        self._st = _state()
        self.core.lib.kws_mfcc_init(self._st)

    def reset(self) -> None:
        self.core.lib.kws_mfcc_reset(self._st)

    def push(self, pcm: np.ndarray) -> np.ndarray:
        pcm = np.ascontiguousarray(pcm, np.int16)
        room = len(pcm) // self.spec.hop_length + 2
        out = np.zeros((room, self.spec.n_mfcc), np.float32)
        k = self.core.lib.kws_mfcc_push(self._st, pcm.ctypes.data, len(pcm), out.ctypes.data, room)
        return out[:k].copy()


def quantize_window(frames: np.ndarray, scale: float, zero_point: int, spec: FeatureSpec | None = None) -> np.ndarray:
    """Push ``n_frames`` frames through the C window and return its int8 model input."""
    core = load_core(spec)
    st = _state()
    core.lib.kws_window_reset(st)
    frames = np.ascontiguousarray(frames, np.float32)
    for f in frames:
        core.lib.kws_window_push(st, f.ctypes.data)
    out = np.zeros(core.spec.n_frames * core.spec.n_mfcc, np.int8)
    core.lib.kws_window_quantize(st, ctypes.c_float(scale), int(zero_point), out.ctypes.data)
    return out.reshape(core.spec.n_frames, core.spec.n_mfcc)


def recognizer_config(labels: Sequence[str], rec) -> RecognizerConfig:
    """C config from labels and a :class:`tinykws.export.carray.RecognizerConfig`."""
    lab = list(labels)
    return RecognizerConfig(len(lab), lab.index("_silence_") if "_silence_" in lab else -1,
                            lab.index("_unknown_") if "_unknown_" in lab else -1, int(rec.average_window_ms),
                            float(rec.threshold), int(rec.suppression_ms), int(rec.min_count))


class Recognizer:
    """The C recognizer. ``push(scores, t_ms)`` returns ``(label_index, score)`` on a detection, else ``None``."""

    def __init__(self, labels: Sequence[str], rec, spec: FeatureSpec | None = None):
        self.core = load_core(spec)
        self._st = _state()
        cfg = recognizer_config(labels, rec)
        if self.core.lib.kws_recognizer_init(self._st, ctypes.byref(cfg)) != 0:
            raise UserError("recognizer settings out of range")
        self.n = len(labels)

    def push(self, scores: np.ndarray, t_ms: int):
        s = np.ascontiguousarray(scores, np.float32)
        d = Detection()
        if self.core.lib.kws_recognizer_push(self._st, s.ctypes.data, int(t_ms) & 0xFFFFFFFF, ctypes.byref(d)):
            return int(d.label), float(d.score)
        return None


def _buf():
    return ctypes.create_string_buffer(1100)


def _enc(s: str | None) -> bytes | None:
    return None if s is None else s.encode()


def encode_inference(t_ms, feat_us, inf_us, total_us, top, score, spec=None) -> str:
    b = _buf()
    n = load_core(spec).lib.kws_encode_inference(b, len(b), t_ms, feat_us, inf_us, total_us, _enc(top), score)
    return b.raw[:n].decode()


def encode_detection(t_ms, label, score, spec=None) -> str:
    b = _buf()
    n = load_core(spec).lib.kws_encode_detection(b, len(b), t_ms, _enc(label), score)
    return b.raw[:n].decode()


def encode_stats(t_ms, inferences, rate_hz, detections, dropped, overflows, mode: str, skipped=0, tx_dropped=0,
                 spec=None) -> str:
    b = _buf()
    m = {"infer": 0, "rec": 1, "idle": 2}[mode]
    n = load_core(spec).lib.kws_encode_stats(b, len(b), t_ms, inferences, rate_hz, detections, dropped, overflows, m,
                                             skipped, tx_dropped)
    return b.raw[:n].decode()


def format_threshold(v: float, spec=None) -> str:
    """The firmware's threshold formatting (``kws_format_threshold``): 3 to 6 decimals."""
    b = _buf()
    n = load_core(spec).lib.kws_format_threshold(b, len(b), v)
    return b.raw[:n].decode()


def encode_audio(seq: int, samples: np.ndarray, spec=None) -> str:
    b = _buf()
    s = np.ascontiguousarray(samples, np.int16)
    n = load_core(spec).lib.kws_encode_audio(b, len(b), seq, s.ctypes.data, len(s))
    return b.raw[:n].decode()


def encode_ack(cmd: str, value: str, spec=None) -> str:
    b = _buf()
    n = load_core(spec).lib.kws_encode_ack(b, len(b), _enc(cmd), _enc(value))
    return b.raw[:n].decode()


def encode_error(code: str, msg: str, spec=None) -> str:
    b = _buf()
    n = load_core(spec).lib.kws_encode_error(b, len(b), _enc(code), _enc(msg))
    return b.raw[:n].decode()


def encode_boot(tag: str, identity: dict, spec=None, cap: int = 1025) -> str:
    """A BOOT/INFO line from ``identity`` (keys as in the line); ``cap`` is the C buffer size
    (the firmware's is ``KWS_LINE_MAX + 1``). Returns "" when the encoder wrote nothing."""
    b = ctypes.create_string_buffer(cap)
    ident = _identity(identity)
    n = load_core(spec).lib.kws_encode_boot(b, cap, _enc(tag), ctypes.byref(ident))
    return b.raw[:n].decode()


class _Command(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("mode", ctypes.c_int), ("threshold", ctypes.c_float)]


_COMMAND_KINDS = ("none", "info", "rec_start", "rec_stop", "mode", "thr", "bad", "bad_arg")
_MODES = ("infer", "rec", "idle")


@dataclass(frozen=True)
class Command:
    """A host command as the firmware reads it.

    ``kind`` is one of ``none`` (blank line), ``info``, ``rec_start``, ``rec_stop``,
    ``mode``, ``thr``, ``bad`` (unknown command) or ``bad_arg`` (known command,
    bad argument); ``mode`` is set for ``mode`` and ``threshold`` for ``thr``.
    """

    kind: str
    mode: str | None = None
    threshold: float | None = None


def parse_command(line: str, spec: FeatureSpec | None = None) -> Command:
    """Parse one host command line with the firmware's own parser (``kws_parse_command``)."""
    lib = load_core(spec).lib
    fn = lib.kws_parse_command
    fn.argtypes, fn.restype = [ctypes.c_char_p], _Command
    c = fn(line.encode("utf-8", "replace"))
    kind = _COMMAND_KINDS[c.kind]
    return Command(kind, _MODES[c.mode] if kind == "mode" else None, float(c.threshold) if kind == "thr" else None)


def _identity(d: dict) -> Identity:
    return Identity(_enc(d.get("board", "sim")), _enc(d.get("fw", "0")), _enc(d.get("model", "")), _enc(d.get("spec", "")),
                    _enc(d.get("labels", "")), int(d.get("arena_used", 0)), int(d.get("arena_size", 0)),
                    _enc(d.get("mic", "wav")), int(d.get("sr", 16000)), _enc(d.get("status", "ok")),
                    _enc(d.get("engine")), int(d.get("weights_crc", 0)), _enc(d.get("reset")))


class App:
    """The firmware's application loop on this computer.

    Parameters
    ----------
    run : tinykws.run.Run
        Labels, quantization, recognizer settings, hashes.
    engine : callable(int8 array [n_frames, n_mfcc]) -> int8 array [n_labels]
        The model (e.g. ``TflmModel(...).predict_one``).
    write_line : callable(str)
        Receives every line the board would send.
    audio : callable(max_samples) -> int16 array, optional
        Microphone; default: the internal queue filled by :meth:`feed`.
    micros : callable() -> int, optional
        Microsecond clock; default: the process's monotonic clock.
    identity : dict, optional
        BOOT line fields (board, fw, mic, arena_used, arena_size, engine, weights_crc, reset).
    realtime : bool, optional
        Whether audio arrives in real time, as from a microphone: then the core skips inferences
        it cannot keep up with (``STAT skipped=``), as on a board. Default: True when ``audio``
        is given, False for audio queued with :meth:`feed` (a file: every due window is inferred).
    """

    def __init__(self, run, engine: Callable[[np.ndarray], np.ndarray], write_line: Callable[[str], None], *,
                 audio: Callable[[int], np.ndarray] | None = None, micros: Callable[[], int] | None = None,
                 identity: dict | None = None, on_detection: Callable[[int, float], None] | None = None,
                 stats_period_ms: int = 5000, realtime: bool | None = None):
        self.core = load_core(run.spec)
        self.spec = run.spec
        self._queue: list[np.ndarray] = []
        self._queue_pos = 0
        self._audio = audio
        self._engine = engine
        self._write = write_line
        self._micros = micros or (lambda: time.perf_counter_ns() // 1000)
        self._on_det = on_detection
        self.error: BaseException | None = None
        shape = (self.spec.n_frames, self.spec.n_mfcc)
        n_labels = len(run.labels)

        def read_audio(ctx, buf, max_n):
            try:
                chunk = self._audio(max_n) if self._audio else self._take(max_n)
                n = min(len(chunk), max_n)
                if n:
                    ctypes.memmove(buf, np.ascontiguousarray(chunk[:n], np.int16).ctypes.data, 2 * n)
                return n
            except BaseException as e:  # never let an exception unwind through C
                self.error = self.error or e
                return 0

        def micros_cb(ctx):
            return int(self._micros()) & 0xFFFFFFFF

        def write_cb(ctx, line, n):
            try:
                self._write(ctypes.string_at(line, n).decode("ascii", "replace"))
            except BaseException as e:
                self.error = self.error or e

        def invoke_cb(ctx, inp, out):
            try:
                x = np.ctypeslib.as_array(inp, shape=(shape[0] * shape[1],)).reshape(shape).copy()
                y = np.asarray(self._engine(x), np.int8).reshape(-1)
                ctypes.memmove(out, y.ctypes.data, n_labels)
                return 0
            except BaseException as e:
                self.error = self.error or e
                return 1

        def det_cb(ctx, label, score):
            if self._on_det:
                self._on_det(int(label), float(score))

        self._cbs = (READ_AUDIO(read_audio), MICROS(micros_cb), WRITE_LINE(write_cb), INVOKE(invoke_cb), ON_DETECTION(det_cb))
        self._platform = Platform(*self._cbs, None)
        self._labels_c = (ctypes.c_char_p * n_labels)(*[l.encode() for l in run.labels])
        ident = {"board": "sim", "fw": _version(), "model": run.model_sha256, "spec": run.spec.sha256,
                 "labels": ",".join(run.labels), "arena_used": 0, "arena_size": run.arena_bytes, "mic": "wav",
                 "sr": run.spec.sample_rate, "status": "ok", **(identity or {})}
        self._ident_bytes = ident  # keep the encoded strings alive with the struct
        q = run.report["model"]
        self._cfg = AppConfig(_identity(ident), self._labels_c, n_labels, q["input_scale"], q["input_zero_point"],
                              q["output_scale"], q["output_zero_point"], run.recognizer.stride_ms,
                              recognizer_config(run.labels, run.recognizer), stats_period_ms,
                              0 if (audio is not None if realtime is None else realtime) else 1)
        self._st = _state()
        rc = self.core.lib.kws_app_init(self._st, ctypes.byref(self._cfg), ctypes.byref(self._platform))
        self._raise()
        if rc != 0:
            raise UserError("the firmware core refused the model settings (see its ERR line)")

    def _take(self, max_n: int) -> np.ndarray:
        if not self._queue:
            return np.zeros(0, np.int16)
        head = self._queue[0]
        part = head[self._queue_pos : self._queue_pos + max_n]
        self._queue_pos += len(part)
        if self._queue_pos >= len(head):
            self._queue.pop(0)
            self._queue_pos = 0
        return part

    def _raise(self):
        if self.error is not None:
            e, self.error = self.error, None
            raise e

    def feed(self, pcm: np.ndarray) -> None:
        """Queue int16 audio for the internal audio source."""
        self._queue.append(np.ascontiguousarray(pcm, np.int16))

    def step(self) -> int:
        """Run the loop over all available audio (``step_once`` until the source is dry); returns samples consumed."""
        total = 0
        while True:
            n = self.step_once()
            total += n
            if n == 0:
                return total

    def step_once(self) -> int:
        """One ``kws_app_step``, as a board's loop() makes it: bounded work, at most one inference."""
        n = self.core.lib.kws_app_step(self._st)
        self._raise()
        return int(n)

    def command(self, line: str) -> None:
        self.core.lib.kws_app_command(self._st, line.encode("ascii", "replace"))
        self._raise()

    def add_dropped(self, n: int) -> None:
        self.core.lib.kws_app_add_dropped(self._st, int(n))

    def add_overflow(self) -> None:
        """One microphone driver overflow (``kws_port_take_overflows``, as main.cpp forwards it)."""
        self.core.lib.kws_app_add_overflow(self._st)

    def add_tx_dropped(self, n: int) -> None:
        self.core.lib.kws_app_add_tx_dropped(self._st, int(n))

    def time_ms(self) -> int:
        return int(self.core.lib.kws_app_time_ms(self._st))


def _version() -> str:
    from tinykws import __version__

    return __version__
