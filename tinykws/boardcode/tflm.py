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
from dataclasses import dataclass

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
    """Smallest arena (multiple of 16 bytes) in which TFLM allocates the model.

    A probe that fails, hangs past ``timeout_s`` or never converges is a one-line :class:`UserError`.
    """
    try:
        return _find_min_arena(tflite, upper=upper, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        raise UserError(f"finding the model's TFLM arena size took more than {timeout_s:g} s (a TFLM probe hung); "
                        "nothing was written: try again, or check the tflite-micro install") from None
    except (RuntimeError, OSError) as e:
        text = str(e).strip()
        raise UserError(f"could not find the model's TFLM arena size: {text.splitlines()[-1] if text else type(e).__name__}"
                        " (check the tflite-micro install)") from None


def _find_min_arena(tflite: bytes, *, upper: int | None, timeout_s: float) -> int:
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


def arena_with_margin(min_bytes: int, scratch_bytes: int = 0) -> int:
    """The arena to compile in: the host minimum plus the board kernels' scratch, plus 10 % (at least 1 KiB), rounded up to 16.

    ``min_bytes`` comes from :func:`find_min_arena` (reference kernels); ``scratch_bytes`` is what the
    board's optimised kernels need on top of it (:func:`cmsis_nn_scratch`).
    """
    n = min_bytes + scratch_bytes
    n += max(1024, n // 10)
    return (n + 15) // 16 * 16


@dataclass(frozen=True)
class Layer:
    """One operator of an int8 model, as the kernels see it (batch 1, NHWC).

    ``kind`` is the cost class: ``"conv"`` (a KxK or strided convolution, e.g. a DS-CNN's first
    layer), ``"conv_1x1"`` (1x1, stride 1), ``"depthwise"``, ``"pool"``, ``"fc"``, ``"softmax"``,
    ``"other"`` (reshape and the like). ``macs`` counts multiply-accumulates (for a pool: the
    additions or comparisons, one per input element of each window); ``outputs`` the output
    elements; ``weights`` the filter elements.
    """

    index: int
    op: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: str = "VALID"
    macs: int = 0
    outputs: int = 0
    weights: int = 0


def _hwc(shape) -> tuple[int, int, int]:
    s = [int(v) for v in shape]
    if len(s) == 4:
        return s[1], s[2], s[3]
    if len(s) == 3:
        return 1, s[1], s[2]
    return 1, 1, s[-1] if s else 1


def model_layers(tflite: bytes) -> list[Layer]:
    """The operators of the first subgraph of ``tflite``, in execution order; :class:`UserError` if it cannot be read."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    try:
        m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytes(tflite), 0))
        sg = m.subgraphs[0]
    except Exception:
        raise UserError("the model is not a readable .tflite flatbuffer") from None
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    same = schema.Padding.SAME
    layers: list[Layer] = []
    for i, op in enumerate(sg.operators or []):
        oc = m.operatorCodes[op.opcodeIndex]
        name = names.get(max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode)), "UNKNOWN")
        shape = lambda t: tuple(int(v) for v in sg.tensors[t].shape) if t >= 0 and sg.tensors[t].shape is not None else ()  # noqa: E731
        ins = [shape(t) for t in op.inputs]
        out = shape(op.outputs[0]) if len(op.outputs) else ()
        o = op.builtinOptions
        n_out = int(np.prod(out)) if out else 0
        common = dict(index=i, op=name, in_shape=ins[0] if ins else (), out_shape=out, outputs=n_out)
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            _, _, cin = _hwc(ins[0])
            oh, ow, oc_ = _hwc(out)
            f = ins[1]  # CONV_2D [out_c, kh, kw, in_c]; DEPTHWISE [1, kh, kw, out_c]
            kh, kw = int(f[1]), int(f[2])
            stride, dil = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
            pad = "SAME" if o.padding == same else "VALID"
            if name == "CONV_2D":
                kind = "conv_1x1" if (kh, kw) == (1, 1) and stride == (1, 1) else "conv"
                macs = oh * ow * oc_ * kh * kw * cin
            else:
                kind, macs = "depthwise", oh * ow * oc_ * kh * kw
                if kw == 1 and stride == (1, 1) and pad == "VALID":
                    kind = "depthwise_time"  # the native engine's time-only kernel
            layers.append(Layer(kind=kind, kernel=(kh, kw), stride=stride, dilation=dil, padding=pad, macs=macs,
                                weights=int(np.prod(f)), **common))
        elif name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            kh, kw = o.filterHeight, o.filterWidth
            layers.append(Layer(kind="pool", kernel=(kh, kw), stride=(o.strideH, o.strideW),
                                padding="SAME" if o.padding == same else "VALID", macs=n_out * kh * kw, **common))
        elif name == "FULLY_CONNECTED":
            f = ins[1]
            layers.append(Layer(kind="fc", macs=int(np.prod(f)), weights=int(np.prod(f)), **common))
        elif name == "SOFTMAX":
            layers.append(Layer(kind="softmax", **common))
        else:
            layers.append(Layer(kind="other", **common))
    return layers


def _same_pad(in_size: int, out_size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    return max(((out_size - 1) * stride + eff - in_size) // 2, 0)


# CMSIS-NN's scratch buffers, as the pinned TFLM library requests them (Chirale_TensorFlowLite 2.0.0 at
# 46da2f98: tflite-micro of 2023-01 with its CMSIS-NN). Each kernel's Prepare() asks the wrapper for a
# size and calls RequestScratchBufferInArena when it is > 0 (kernels/cmsis_nn/conv.cpp,
# depthwise_conv.cpp, pooling.cpp, fully_connected.cpp); softmax asks for none. The formulas, for a
# Cortex-M4 (ARM_MATH_DSP defined, no MVE), from third_party/cmsis_nn/Source/:
#   conv, arm_convolve_wrapper_s8_get_buffer_size: 0 for the 1x1 fast path (padding 0, stride 1,
#     dilation 1, 1x1 filter); otherwise arm_convolve_s8 (or 1xN, the same size): im2col of two
#     columns, 2 * in_c * k_h * k_w * sizeof(int16).
#   depthwise, arm_depthwise_conv_wrapper_s8_get_buffer_size: for depth multiplier 1, batch 1 and
#     dilation 1 it returns arm_depthwise_conv_s8_opt's in_c * k_h * k_w * sizeof(int16), even when
#     the 3x3 kernel (arm_depthwise_conv_3x3_s8, which needs none) is the one that runs; else 0.
#   average pool, arm_avgpool_s8_get_buffer_size: in_c * sizeof(int32); max pool: none.
#   fully connected, arm_fully_connected_s8_get_buffer_size: 0.
# Without the DSP extension (the ESP32 build of the same library) depthwise and pool ask for 0 and
# conv for the same im2col size, so the Cortex-M4 figure covers both boards.
#
# A scratch buffer lives only while its operator runs, so the arena grows by at most the largest
# one (the planner lays it beside that operator's input and output). Its bookkeeping is persistent:
# one 4-byte ScratchBufferHandle per request on a 32-bit target (one allocation, 16-byte aligned),
# and each CMSIS-NN conv / depthwise / pool keeps a 4-byte buffer index beyond the reference
# kernel's op data, which can cost one more 16-byte alignment step each (counted in full here).
_ALIGN = 16


def _align(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


@dataclass(frozen=True)
class CmsisNnScratch:
    """What CMSIS-NN adds to the arena the host found with reference kernels.

    Attributes
    ----------
    bytes : int
        Total to add: the largest scratch buffer plus the bookkeeping.
    largest_bytes : int
        The largest single request (16-byte aligned).
    largest_kernel : str
        The CMSIS-NN function that request is for, and the layer (e.g. ``"arm_depthwise_conv_s8_opt (layer 2)"``).
    bookkeeping_bytes : int
        Scratch handles and the larger per-op data.
    requests : tuple of (layer index, kernel, bytes)
        Every request, in execution order.
    """

    bytes: int
    largest_bytes: int
    largest_kernel: str
    bookkeeping_bytes: int
    requests: tuple[tuple[int, str, int], ...] = ()


def cmsis_nn_scratch(layers_or_tflite) -> CmsisNnScratch:
    """CMSIS-NN scratch the board's TFLM needs beyond the host minimum (see the comment above for the formulas).

    Takes a ``.tflite`` (bytes) or its :func:`model_layers`.
    """
    layers = model_layers(layers_or_tflite) if isinstance(layers_or_tflite, (bytes, bytearray)) else list(layers_or_tflite)
    requests: list[tuple[int, str, int]] = []
    cmsis_ops = 0
    for l in layers:
        ih, iw, ic = _hwc(l.in_shape)
        oh, ow, oc = _hwc(l.out_shape)
        kh, kw = l.kernel
        if l.op == "CONV_2D":
            cmsis_ops += 1
            pad_h = _same_pad(ih, oh, kh, l.stride[0], l.dilation[0]) if l.padding == "SAME" else 0
            pad_w = _same_pad(iw, ow, kw, l.stride[1], l.dilation[1]) if l.padding == "SAME" else 0
            if (pad_h, pad_w) == (0, 0) and l.stride == (1, 1) and (kh, kw) == (1, 1) and l.dilation == (1, 1):
                continue  # arm_convolve_1x1_s8_fast: no buffer
            fn = "arm_convolve_1_x_n_s8" if ih == 1 and ow % 4 == 0 and l.dilation[1] == 1 and kh == 1 else "arm_convolve_s8"
            requests.append((l.index, fn, 2 * ic * kh * kw * 2))
        elif l.op == "DEPTHWISE_CONV_2D":
            cmsis_ops += 1
            if ic == oc and l.dilation == (1, 1):
                requests.append((l.index, "arm_depthwise_conv_s8_opt", ic * kh * kw * 2))
        elif l.op == "AVERAGE_POOL_2D":
            cmsis_ops += 1
            requests.append((l.index, "arm_avgpool_s8", ic * 4))
    if not requests:
        return CmsisNnScratch(0, 0, "none", 0, ())
    idx, fn, largest = max(requests, key=lambda r: r[2])
    bookkeeping = _align(4 * len(requests)) + _ALIGN * cmsis_ops
    return CmsisNnScratch(_align(largest) + bookkeeping, _align(largest), f"{fn} (layer {idx})", bookkeeping,
                          tuple(requests))

