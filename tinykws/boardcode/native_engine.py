"""The native int8 engine (``firmware/lib/kws_nn`` + a generated ``kws_net_model.h``) on this computer.

The kernels the board runs are compiled with the host C compiler, together with
a model header from :func:`tinykws.export.native.render_native_model`, into a
shared library cached under ``$TINYKWS_CACHE/native_engine/`` (one per sources,
header, compiler and path). Two paths can be built: ``"portable"`` (the plain C
kernels) and ``"dsp"`` (the Cortex-M DSP kernels with C versions of the
intrinsics, ``-DKWS_NN_EMULATE_DSP``), so the host tests cover the logic of
both; the real instructions are checked under QEMU (:mod:`tinykws.boardcode.cross`).

API: :class:`NativeNet` ``(tflite, path=...)``; ``.run(x) -> (scores, layers)``
where ``layers`` holds every layer's int8 output, keyed by the TFLite tensor
index it equals.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinykws.paths import cache_dir, core_source_dir
from tinykws.boardcode.native import find_compiler

PATH_FLAGS = {"portable": ["-DKWS_NN_PORTABLE"], "dsp": ["-DKWS_NN_EMULATE_DSP"]}
CFLAGS = ["-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror"]

# Runs the generated network and copies each layer's output into a caller's buffer.
DRIVER_C = r"""
#include <stdint.h>
#include <string.h>
static void kws_host_layer_done(int index, const int8_t *data, int bytes);
#define KWS_NET_LAYER_DONE(index, data, bytes) kws_host_layer_done((index), (data), (bytes))
#include "kws_net_model.h"

static int8_t *layer_buf;
static int layer_pos;
static void kws_host_layer_done(int index, const int8_t *data, int bytes) {
    (void)index;
    if (layer_buf) memcpy(layer_buf + layer_pos, data, (size_t)bytes);
    layer_pos += bytes;
}
int kws_host_run(const int8_t *in, int8_t *out, int8_t *layers) {
    layer_buf = layers;
    layer_pos = 0;
    kws_net_invoke(in, out);
    return layer_pos;
}
uint32_t kws_host_weights_crc32(void) { return kws_net_weights_crc32(); }
int kws_host_uses_dsp(void) { return kws_nn_uses_dsp(); }
#ifdef KWS_NET_STREAMABLE
int kws_host_streamable(void) { return 1; }
int kws_host_stream_window(const int8_t *in, int8_t *out) { return kws_net_stream_window(in, out); }
void kws_host_stream_reset(void) { kws_net_stream_reset(); }
void kws_host_stream_rows(const int8_t *rows, int n) { kws_net_stream_rows(rows, n); }
void kws_host_stream_scores(int8_t *out) { kws_net_stream_scores(out); }
#else
int kws_host_streamable(void) { return 0; }
int kws_host_stream_window(const int8_t *in, int8_t *out) { (void)in; (void)out; return -1; }
void kws_host_stream_reset(void) {}
void kws_host_stream_rows(const int8_t *rows, int n) { (void)rows; (void)n; }
void kws_host_stream_scores(int8_t *out) { (void)out; }
#endif
"""


def nn_source_dir() -> Path:
    """``firmware/lib/kws_nn``: the inference kernels."""
    return core_source_dir().parent / "kws_nn"


def build_native_engine(header: str, path: str = "portable") -> Path:
    """Compile kws_nn with ``header`` as ``kws_net_model.h`` (cached); returns the shared library."""
    src = nn_source_dir()
    files = sorted((src / "src").glob("*")) + sorted((src / "include").glob("*.h"))
    cc = find_compiler()
    flags = [*CFLAGS, *PATH_FLAGS[path]]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    h.update(header.encode() + DRIVER_C.encode() + " ".join([cc, *flags]).encode())
    out = cache_dir("native_engine") / h.hexdigest()[:20] / "libkws_net.so"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        t = Path(tmp)
        (t / "kws_net_model.h").write_text(header)
        (t / "driver.c").write_text(DRIVER_C)
        lib = t / "lib.so"
        cmd = [cc, *flags, "-I", str(src / "include"), "-I", str(src / "src"), "-I", str(t),
               *[str(f) for f in files if f.suffix == ".c"], str(t / "driver.c"), "-o", str(lib)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"building the native engine failed:\n{' '.join(cmd)}\n{p.stderr}")
        os.replace(lib, out)
    return out


class NativeNet:
    """The generated engine for one model, loaded through ctypes.

    Parameters
    ----------
    tflite : bytes
        A full-int8 ``.tflite`` the native engine supports.
    path : {"portable", "dsp"}
        Which kernels to build (the DSP ones with emulated intrinsics).
    """

    def __init__(self, tflite: bytes, path: str = "portable"):
        from tinykws.export.native import native_model_info, render_native_model

        self.info = native_model_info(tflite)
        self.header = render_native_model(tflite)
        self.lib = ctypes.CDLL(str(build_native_engine(self.header, path)))
        self.lib.kws_host_run.argtypes = [ctypes.c_void_p] * 3
        self.lib.kws_host_run.restype = ctypes.c_int
        self.lib.kws_host_weights_crc32.restype = ctypes.c_uint32
        self.lib.kws_host_stream_window.argtypes = [ctypes.c_void_p] * 2
        self.lib.kws_host_stream_window.restype = ctypes.c_int
        self.lib.kws_host_stream_rows.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.lib.kws_host_stream_scores.argtypes = [ctypes.c_void_p]
        #: Whether the model runs in streaming mode (only the rows a stride adds; tinykws.export.native.stream_plan).
        self.streamable = bool(self.lib.kws_host_streamable())
        self.layers = self.info["layers"]
        self.layer_bytes = [int(np.prod(l["out_shape"])) for l in self.layers]
        self.n_out = self.layer_bytes[-1]

    @property
    def uses_dsp(self) -> bool:
        return bool(self.lib.kws_host_uses_dsp())

    def weights_crc32(self) -> int:
        return int(self.lib.kws_host_weights_crc32())

    def run(self, x: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Scores (int8) and every layer's output ``{tflite tensor index: int8 array of its shape}``."""
        x = np.ascontiguousarray(np.asarray(x, np.int8).reshape(-1))
        out = np.zeros(self.n_out, np.int8)
        buf = np.zeros(sum(self.layer_bytes), np.int8)
        n = self.lib.kws_host_run(x.ctypes.data, out.ctypes.data, buf.ctypes.data)
        assert n == len(buf)
        layers, pos = {}, 0
        for l, nb in zip(self.layers, self.layer_bytes):
            layers[l["tensor"]] = buf[pos : pos + nb].reshape(l["out_shape"]).copy()
            pos += nb
        return out, layers


    def stream(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """Streaming mode: the scores of window ``x`` computed from the rows that are new since the
        previous call (``kws_net_stream_window``), and how many rows that was (all of them after a
        restart). Only for a streamable model."""
        if not self.streamable:
            raise ValueError("this model has no streaming mode")
        x = np.ascontiguousarray(np.asarray(x, np.int8).reshape(-1))
        out = np.zeros(self.n_out, np.int8)
        n = self.lib.kws_host_stream_window(x.ctypes.data, out.ctypes.data)
        return out, int(n)

    def stream_reset(self) -> None:
        self.lib.kws_host_stream_reset()

    def stream_rows(self, rows: np.ndarray) -> None:
        """Push feature rows (int8 ``[n, row]``, any n) through the row layers, a chunk at a time."""
        from tinykws.export.native import STREAM_CHUNK_ROWS

        rows = np.ascontiguousarray(np.asarray(rows, np.int8))
        for i in range(0, len(rows), STREAM_CHUNK_ROWS):
            part = np.ascontiguousarray(rows[i : i + STREAM_CHUNK_ROWS])
            self.lib.kws_host_stream_rows(part.ctypes.data, len(part))

    def stream_scores(self) -> np.ndarray:
        out = np.zeros(self.n_out, np.int8)
        self.lib.kws_host_stream_scores(out.ctypes.data)
        return out


class TflmLayers:
    """The tflite-micro package's interpreter keeping every tensor: the reference, layer by layer."""

    def __init__(self, tflite: bytes):
        from tinykws.io import quiet_fd
        from tinykws.boardcode.tflm import _runtime

        rt = _runtime()
        with quiet_fd(1):
            self._it = rt.Interpreter.from_bytes(bytes(tflite), arena_size=max(len(tflite) * 10, 200_000),
                                                 intrepreter_config=rt.InterpreterConfig.kPreserveAllTensors)
        self.input_shape = tuple(int(v) for v in self._it.get_input_details(0)["shape"])

    def run(self, x: np.ndarray, tensors: list[int]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Output and the listed tensors (TFLite indexes) for one int8 input."""
        self._it.set_input(np.asarray(x, np.int8).reshape(self.input_shape), 0)
        self._it.invoke()
        out = np.array(self._it.get_output(0)).reshape(-1).copy()
        return out, {t: np.array(self._it.GetTensor(t, 0)["tensor_data"]).copy() for t in tensors}
