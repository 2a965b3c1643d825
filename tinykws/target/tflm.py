"""The TensorFlow Lite Micro interpreter on the host: the board's kernels, the laptop's speed.

``tflite-micro``'s Python package runs the real TFLM interpreter with its
reference kernels, so int8 accuracy measured here is what the firmware
computes (tf.lite is *not* always bit-identical to it: per-channel fully
connected layers can round differently by one step).

:func:`find_min_arena` searches for the smallest tensor arena TFLM can
allocate the model in. Some too-small arenas make the runtime abort the whole
process instead of raising, so every probe runs in a child process; one child
walks the binary search and reports each probe as it goes, and is restarted
past a size that killed it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

from tinykws.errors import UserError
from tinykws.io import quiet_fd


def _runtime():
    with quiet_fd(2):
        from tflite_micro.python.tflite_micro import runtime
    return runtime


class TflmModel:
    """An int8 model loaded into the TFLM interpreter.

    Parameters
    ----------
    tflite : bytes
        The ``.tflite`` flatbuffer.
    arena_bytes : int or None
        Tensor arena size; ``None`` lets the runtime pick a generous default.
    """

    def __init__(self, tflite: bytes, arena_bytes: int | None = None):
        rt = _runtime()
        try:
            with quiet_fd(1):
                self._it = rt.Interpreter.from_bytes(bytes(tflite), arena_size=arena_bytes or max(len(tflite) * 10, 200_000))
        except RuntimeError as e:
            raise UserError(f"TFLM could not load the model: {str(e).strip().splitlines()[0] if str(e).strip() else e}") from None
        i = self._it.get_input_details(0)
        o = self._it.get_output_details(0)
        self.input_shape = tuple(int(v) for v in i["shape"])
        self.input_dtype = np.dtype(i["dtype"])
        self.output_dtype = np.dtype(o["dtype"])
        qi, qo = i["quantization_parameters"], o["quantization_parameters"]
        self.input_scale = float(qi["scales"][0]) if len(qi["scales"]) else 1.0
        self.input_zero_point = int(qi["zero_points"][0]) if len(qi["zero_points"]) else 0
        self.output_scale = float(qo["scales"][0]) if len(qo["scales"]) else 1.0
        self.output_zero_point = int(qo["zero_points"][0]) if len(qo["zero_points"]) else 0

    def predict_one(self, x: np.ndarray) -> np.ndarray:
        """Raw output for one input of the model's input shape without the batch axis."""
        x = np.asarray(x, self.input_dtype).reshape(self.input_shape)
        self._it.set_input(x, 0)
        self._it.invoke()
        return np.array(self._it.get_output(0)).reshape(-1).copy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs ``[n, n_labels]`` for ``n`` inputs."""
        return np.stack([self.predict_one(xi) for xi in x]) if len(x) else np.zeros((0, 0), self.output_dtype)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Dequantized scores ``[n, n_labels]`` in [0, 1]."""
        q = self.predict(x)
        return ((q.astype(np.float32) - self.output_zero_point) * self.output_scale).astype(np.float32)


_PROBE = r"""
import os, sys
sys.stdout = os.fdopen(os.dup(1), "w")
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
lo, hi = int(sys.argv[2]), int(sys.argv[3])   # lo fails (or 0), hi works
while hi - lo > 16:
    mid = (lo + hi) // 2 // 16 * 16
    if mid <= lo: mid = lo + 16
    print("try", mid, flush=True)
    try:
        runtime.Interpreter.from_bytes(data, arena_size=mid)
        ok = True
    except Exception:
        ok = False
    print("ok" if ok else "fail", mid, flush=True)
    if ok: hi = mid
    else: lo = mid
print("done", hi, flush=True)
"""


def find_min_arena(tflite: bytes, *, upper: int | None = None, timeout_s: float = 300) -> int:
    """Smallest arena (multiple of 16 bytes) in which TFLM allocates the model."""
    hi = upper or max(len(tflite) * 4, 256 * 1024)
    lo = 0
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
        f.write(tflite)
        path = f.name
    try:
        for _ in range(40):
            proc = subprocess.run(
                [sys.executable, "-c", _PROBE, path, str(lo), str(hi)],
                capture_output=True, text=True, timeout=timeout_s,
            )
            trying = None
            done = None
            for line in proc.stdout.splitlines():
                parts = line.split()
                if len(parts) != 2:
                    continue
                word, n = parts[0], int(parts[1])
                if word == "try":
                    trying = n
                elif word == "ok":
                    hi, trying = n, None
                elif word == "fail":
                    lo, trying = n, None
                elif word == "done":
                    done = n
            if done is not None:
                if lo == 0 and done == (upper or max(len(tflite) * 4, 256 * 1024)):
                    # Never saw a success below the start: check the upper bound itself works.
                    TflmModel(tflite, done)
                return done
            if trying is None:
                raise RuntimeError(f"arena probe failed: {proc.stderr.strip()[-300:]}")
            lo = trying  # the child died at this size: too small
        raise RuntimeError("arena probe did not converge")
    finally:
        os.unlink(path)


def arena_with_margin(min_bytes: int) -> int:
    """The arena to compile in: the host minimum plus 10 % (at least 1 KiB), rounded up to 16."""
    n = min_bytes + max(1024, min_bytes // 10)
    return (n + 15) // 16 * 16
