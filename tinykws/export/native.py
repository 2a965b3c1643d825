"""The native engine's model: a full-int8 ``.tflite`` as generated C (``kws_net_model.h``).

The generated header holds the network for the firmware's own kernels
(``firmware/lib/kws_nn``): the weights as ``static const`` arrays, pre-arranged
for the kernels (int16 pairs in the order the inner loops read them, the input
zero point folded into the bias where that changes nothing; convolutions whose
fast requantization is proved exact get one packed stream of doubled weights,
biases and requantization constants, see kws_nn.h), the per-channel
requantization multipliers and shifts exactly as TFLM derives them, a static
memory plan (one arena; a layer's output reuses its input's bytes where the
kernel allows, otherwise the two sit at opposite ends of the arena), and
``kws_net_invoke`` as straight-line kernel calls. The outputs are TFLM's, bit
for bit (tests/export/test_native_engine.py checks every layer).

API:

- :func:`plan_native(tflite)` -> :class:`NativePlan` (layers, memory plan, arrays);
  raises :class:`UserError` naming the first op or feature the engine lacks;
- :func:`render_native_model(tflite, name=...)` -> the header's text;
- :func:`native_model_info(tflite)` -> dict: ``ram_bytes`` (arena + scratch),
  ``arena_bytes``, ``scratch_bytes``, ``weights_bytes``, ``macs``, ``weights_crc32``
  and ``layers`` (op, kernel, shapes, MACs, in place or not, TFLite output tensor).

Weights CRC: ``KWS_NET_WEIGHTS_CRC32`` is zlib's CRC-32 over every constant
array of the header, in the order they appear (layer by layer; within a layer
weights, bias, multipliers, shifts, then the fast-path constants), each as its
little-endian bytes; ``kws_net_weights_crc32()`` recomputes it from flash.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from tinykws.errors import UserError

#: Ops the native engine runs (RESHAPE costs nothing: an alias of its input).
SUPPORTED_OPS = ("RESHAPE", "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX")

_ACT_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
_TFLITE_INT8, _TFLITE_INT32 = 9, 2
#: Output pixels the gemm kernels (kws_nn_gemm.c) widen into scratch at a time.
_GEMM_PIXELS = 4


def _unsupported(what: str) -> UserError:
    return UserError(f"the native engine does not support {what}, and the firmware runs no other: "
                     "train it with one of `tinykws train --arch`'s architectures")


# --- TFLite's quantization arithmetic (tensorflow/lite/kernels/internal/quantization_util.cc) -----

def quantize_multiplier(m: float) -> tuple[int, int]:
    """(Q31 multiplier, shift) of a real multiplier, as TFLite's QuantizeMultiplier."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)  # std::round: half away from zero
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def _round_away(x: float) -> int:
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def activation_range(act: int, scale: float, zp: int) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for int8 (the division is float32, as in C++)."""
    q = lambda f: zp + _round_away(float(np.float32(f) / np.float32(scale)))  # noqa: E731
    if act == 0:
        return -128, 127
    if act == 1:
        return max(-128, q(0.0)), 127
    if act == 3:
        return max(-128, q(0.0)), min(127, q(6.0))
    if act == 2:
        return max(-128, q(-1.0)), min(127, q(1.0))
    raise AssertionError(act)


def _padding(padding: int, stride: int, in_size: int, k: int, out_size: int) -> int:
    """Leading padding (TFLite's ComputePaddingWithOffset; the odd pixel goes after)."""
    total = max(0, (out_size - 1) * stride + k - in_size)
    return total // 2 if padding == 0 else 0


# --- the plan ------------------------------------------------------------------------------------

@dataclass
class Array:
    """One constant array of the header."""

    name: str
    ctype: str  # int8_t, int16_t, int32_t
    values: np.ndarray

    def le_bytes(self) -> bytes:
        dt = {"int8_t": "<i1", "int16_t": "<i2", "int32_t": "<i4"}[self.ctype]
        return np.ascontiguousarray(self.values, dtype=dt).tobytes()


@dataclass
class Layer:
    op: str
    kernel: str  # conv2d, pointwise, depthwise, avgpool, fc, softmax
    in_shape: list[int]
    out_shape: list[int]
    macs: int
    params: dict  # C initializer fields (struct member -> C expression)
    arrays: list[Array] = field(default_factory=list)
    out_tensor: int = -1  # TFLite tensor index of the output (after RESHAPE aliases: the producer's)
    in_place: bool = False
    scratch_bytes: int = 0
    in_offset: int = 0  # arena offsets, -1 for the caller's input/output buffer
    out_offset: int = 0
    fast_requant: bool = False

    @property
    def in_bytes(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_bytes(self) -> int:
        return int(np.prod(self.out_shape))


@dataclass
class NativePlan:
    layers: list[Layer]
    arena_bytes: int
    scratch_bytes: int
    input_bytes: int
    output_bytes: int
    ops: list[str]

    @property
    def arrays(self) -> list[Array]:
        return [a for layer in self.layers for a in layer.arrays]

    @property
    def ram_bytes(self) -> int:
        return self.arena_bytes + self.scratch_bytes

    @property
    def weights_bytes(self) -> int:
        return sum(len(a.le_bytes()) for a in self.arrays)

    @property
    def weights_crc32(self) -> int:
        crc = 0
        for a in self.arrays:
            crc = zlib.crc32(a.le_bytes(), crc)
        return crc & 0xFFFFFFFF

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


class _Model:
    """Just enough of the flatbuffer: tensors (shape, type, quantization, constant data) and operators."""

    def __init__(self, tflite: bytes):
        schema = _schema()
        try:
            m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytes(tflite), 0))
        except Exception as e:  # a truncated or foreign file
            raise UserError(f"not a .tflite model: {e}") from None
        if len(m.subgraphs) != 1:
            raise _unsupported(f"{len(m.subgraphs)} subgraphs")
        self.m, self.sg = m, m.subgraphs[0]
        names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        self.op_names = []
        for oc in m.operatorCodes:
            code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
            self.op_names.append(names.get(code, f"CUSTOM({oc.customCode!r})" if code == 32 else f"UNKNOWN_{code}"))

    def shape(self, t: int) -> list[int]:
        return [int(v) for v in self.sg.tensors[t].shape]

    def type(self, t: int) -> int:
        return int(self.sg.tensors[t].type)

    def quant(self, t: int) -> tuple[np.ndarray, np.ndarray, int]:
        q = self.sg.tensors[t].quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64), 0
        return np.asarray(q.scale, np.float32), np.asarray(q.zeroPoint, np.int64), int(q.quantizedDimension)

    def scale_zp(self, t: int) -> tuple[float, int]:
        s, z, _ = self.quant(t)
        if len(s) != 1:
            raise _unsupported(f"per-channel quantized activations (tensor {self.sg.tensors[t].name!r})")
        return float(s[0]), int(z[0])

    def data(self, t: int) -> np.ndarray | None:
        buf = self.m.buffers[self.sg.tensors[t].buffer]
        if buf is None or buf.data is None or len(buf.data) == 0:
            if buf is not None and getattr(buf, "offset", 0) and buf.offset > 1:
                raise _unsupported("weights stored outside the flatbuffer (offset buffers)")
            return None
        raw = np.asarray(buf.data, np.uint8).tobytes()
        dt = {_TFLITE_INT8: np.int8, _TFLITE_INT32: np.int32}.get(self.type(t))
        if dt is None:
            raise _unsupported(f"constant tensors of TFLite type {self.type(t)} (only int8 and int32)")
        return np.frombuffer(raw, dtype=np.dtype(dt).newbyteorder("<")).reshape(self.shape(t))


def _act(opts, op: str) -> int:
    act = int(getattr(opts, "fusedActivationFunction", 0) or 0)
    if act not in _ACT_NAMES:
        raise _unsupported(f"the fused activation {act} of {op} (only none, RELU, RELU6, RELU_N1_TO_1)")
    return act


def _requant_arrays(prefix: str, in_scale: float, w_scales: np.ndarray, out_scale: float, n: int, bias: np.ndarray,
                    out_zp: int, act_min: int, act_max: int, acc_bound: np.ndarray) -> tuple[list[Array], dict, bool]:
    """bias/mult/shift (and fast_add where exact) arrays and the kws_nn_quant_t initializer."""
    if len(w_scales) == 1:
        w_scales = np.repeat(w_scales, n)
    mult, shift = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for c in range(n):
        # As TFLM's PopulateConvolutionQuantizationParams: double(in) * double(w) / double(out).
        mult[c], shift[c] = quantize_multiplier(float(in_scale) * float(w_scales[c]) / float(out_scale))
    arrays = [Array(f"{prefix}_bias", "int32_t", bias.astype(np.int64)), Array(f"{prefix}_mult", "int32_t", mult),
              Array(f"{prefix}_shift", "int8_t", shift)]
    # The DSP path's cheap requantization (kws_nn_internal.h) is exact under these conditions.
    rs = -shift
    fast_add = np.where(rs >= 1, (1 << np.maximum(rs - 1, 0)) + out_zp * (1 << np.clip(rs, 0, 40)), 0)
    fast = bool(
        act_min >= out_zp
        and np.all(mult > 0) and np.all(rs >= 1) and np.all(rs <= 30)
        and np.all(2 * acc_bound < 2**31)
        and np.all(acc_bound + 2 + np.abs(fast_add) < 2**31)
    )
    q = {"bias": f"{prefix}_bias", "mult": f"{prefix}_mult", "shift": f"{prefix}_shift",
         "fast_add": f"{prefix}_fast_add" if fast else "NULL", "out_zp": out_zp, "act_min": act_min, "act_max": act_max}
    if fast:
        arrays.append(Array(f"{prefix}_fast_add", "int32_t", fast_add.astype(np.int64)))
    return arrays, q, fast


def _blocked_pairs(w: np.ndarray) -> np.ndarray:
    """[out_c][K] (K % 2 == 0) -> int16 in kws_nn's gemm layout: blocks of 2 channels pair by pair, then an odd last row."""
    out_c, k = w.shape
    pairs = w.reshape(out_c, k // 2, 2)
    nb = out_c // 2
    blocks = pairs[: nb * 2].reshape(nb, 2, k // 2, 2).transpose(0, 2, 1, 3).reshape(-1)
    return np.concatenate([blocks, pairs[nb * 2 :].reshape(-1)]).astype(np.int16)


def _packed_stream(w2: np.ndarray, bias: np.ndarray, arrays: list[Array]) -> np.ndarray:
    """kws_nn's packed stream (kws_nn.h) of [out_c][K] weights (K % 4 == 0, pairs already in kernel
    order), their bias and the layer's requantization arrays: per 2 channels the doubled biases,
    the doubled weight pairs step by step, then mult, fast_add, right shift of each and the last flag."""
    out_c, k = w2.shape
    a = {x.name.rsplit("_", 1)[-1] if not x.name.endswith("fast_add") else "fast_add": x.values for x in arrays}
    mult, shift, add = (np.asarray(a[n], np.int64) for n in ("mult", "shift", "fast_add"))
    pairs = (2 * w2).astype(np.int64).reshape(out_c, k // 4, 2, 2)  # [c][step][pair][lo, hi]
    words = (pairs[..., 0] & 0xFFFF) | ((pairs[..., 1] & 0xFFFF) << 16)  # [c][step][pair]
    out = []
    for c in range(0, out_c, 2):
        out += [2 * bias[c], 2 * bias[c], 2 * bias[c + 1], 2 * bias[c + 1]]
        for s in range(k // 4):
            out += [words[c, s, 0], words[c + 1, s, 0], words[c, s, 1], words[c + 1, s, 1]]
        out += [mult[c], add[c], -shift[c], mult[c + 1], add[c + 1], -shift[c + 1], int(c + 2 == out_c)]
    v = np.asarray(out, np.int64)
    return np.where(v >= 2**31, v - 2**32, v)


def _use_packed(fast: bool, act_min: int, act_max: int, out_c: int, k: int) -> bool:
    """Whether a (1x1) convolution gets the packed stream: the kernel's fast requantization without clamping."""
    return fast and act_min == -128 and act_max == 127 and out_c % 2 == 0 and k % 4 == 0


def plan_native(tflite: bytes) -> NativePlan:
    """Translate the model into native layers and a memory plan; :class:`UserError` for what the engine lacks."""
    mdl = _Model(tflite)
    sg = mdl.sg
    ops_used: list[str] = []
    for op in sg.operators:
        name = mdl.op_names[op.opcodeIndex]
        if name not in SUPPORTED_OPS:
            raise _unsupported(f"op {name}")
        if name not in ops_used:
            ops_used.append(name)
    if len(sg.inputs) != 1 or len(sg.outputs) != 1:
        raise _unsupported("models with more than one input or output")
    t_in, t_out = int(sg.inputs[0]), int(sg.outputs[0])
    for t in (t_in, t_out):
        if mdl.type(t) != _TFLITE_INT8:
            raise _unsupported("float or non-int8 model input/output (convert with full-int8 quantization)")

    alias = {t_in: t_in}  # tensor -> the tensor whose bytes it is (RESHAPE aliases)
    current = t_in
    layers: list[Layer] = []
    for li, op in enumerate(sg.operators):
        name = mdl.op_names[op.opcodeIndex]
        ins, outs = [int(i) for i in op.inputs], [int(o) for o in op.outputs]
        opts = op.builtinOptions
        if len(outs) != 1 or alias.get(ins[0]) != current:
            raise _unsupported("networks that are not a single chain of layers")
        x, y = ins[0], outs[0]
        if mdl.type(y) != _TFLITE_INT8 or mdl.type(x) != _TFLITE_INT8:
            raise _unsupported(f"op {name} on non-int8 tensors")
        if name == "RESHAPE":
            if int(np.prod(mdl.shape(x))) != int(np.prod(mdl.shape(y))) or mdl.scale_zp(x) != mdl.scale_zp(y):
                raise _unsupported("a RESHAPE that changes size or quantization")
            alias[y] = current
            continue
        in_scale, in_zp = mdl.scale_zp(x)
        out_scale, out_zp = mdl.scale_zp(y)
        xs, ys = mdl.shape(x), mdl.shape(y)
        prefix = f"kws_net_l{len(layers)}"
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            act = _act(opts, name)
            if int(opts.dilationHFactor) != 1 or int(opts.dilationWFactor) != 1:
                raise _unsupported(f"dilation in {name}")
            w = mdl.data(ins[1])
            if w is None or mdl.type(ins[1]) != _TFLITE_INT8:
                raise _unsupported(f"{name} with non-constant or non-int8 weights")
            w_scales, w_zps, _ = mdl.quant(ins[1])
            if np.any(w_zps != 0):
                raise _unsupported(f"{name} weights with a non-zero zero point")
            bias = mdl.data(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            _, in_h, in_w, in_c = xs
            _, out_h, out_w, out_c = ys
            sh, sw = int(opts.strideH), int(opts.strideW)
            act_min, act_max = activation_range(act, out_scale, out_zp)
            if name == "CONV_2D":
                oc_, kh, kw, ic_ = w.shape
                if ic_ != in_c or oc_ != out_c:
                    raise _unsupported("grouped CONV_2D")
            else:
                _, kh, kw, wc = w.shape
                if wc != in_c or out_c != in_c:
                    raise _unsupported("DEPTHWISE_CONV_2D with a depth multiplier other than 1")
            pt = _padding(int(opts.padding), sh, in_h, kh, out_h)
            pl = _padding(int(opts.padding), sw, in_w, kw, out_w)
            b = np.zeros(out_c, np.int64) if bias is None else bias.astype(np.int64).reshape(out_c)
            in_off = -in_zp
            if name == "CONV_2D" and kh == 1 and kw == 1 and sh == 1 and sw == 1 and in_c % 4 == 0 \
                    and out_h == in_h and out_w == in_w:
                w2 = w.reshape(out_c, in_c).astype(np.int64)
                perm = np.arange(in_c).reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1)  # SXTB16 pair order
                folded = b + in_off * w2.sum(axis=1)
                bound = np.abs(folded) + 128 * np.abs(w2).sum(axis=1)
                arrays, q, fast = _requant_arrays(prefix, in_scale, w_scales, out_scale, out_c, folded, out_zp, act_min,
                                                  act_max, bound)
                packed = _use_packed(fast, act_min, act_max, out_c, in_c)
                if packed:
                    arrays.insert(0, Array(f"{prefix}_packed", "int32_t", _packed_stream(w2[:, perm], folded, arrays)))
                else:
                    arrays.insert(0, Array(f"{prefix}_w", "int16_t", _blocked_pairs(w2[:, perm])))
                layer = Layer(name, "pointwise", xs[1:], ys[1:], out_h * out_w * out_c * in_c,
                              {"n_pix": out_h * out_w, "in_c": in_c, "out_c": out_c,
                               "weights": "NULL" if packed else f"{prefix}_w", "q": q,
                               "packed": f"{prefix}_packed" if packed else "NULL"},
                              arrays, in_place=out_c <= in_c, scratch_bytes=_GEMM_PIXELS * in_c * 2, fast_requant=fast)
            elif name == "CONV_2D":
                k = kh * kw * in_c
                kpad = (k + 3) // 4 * 4
                w2 = np.zeros((out_c, kpad), np.int64)
                w2[:, :k] = w.reshape(out_c, k)
                bound = np.abs(b) + 255 * np.abs(w2).sum(axis=1)
                arrays, q, fast = _requant_arrays(prefix, in_scale, w_scales, out_scale, out_c, b, out_zp, act_min,
                                                  act_max, bound)
                packed = _use_packed(fast, act_min, act_max, out_c, kpad)
                scratch = _GEMM_PIXELS * kpad * 2
                if packed:
                    arrays.insert(0, Array(f"{prefix}_packed", "int32_t", _packed_stream(w2, b, arrays)))
                    if in_c == 1 and kw % 4 == 0 and (sw % 2 == 0 or out_w == 1):
                        # kws_nn_gemm.c's single-channel path: 4 pixels' inputs, then a zero-padded
                        # int16 copy of the input with an even row length.
                        hp, wp = (out_h - 1) * sh + kh, ((out_w - 1) * sw + kw + 1) // 2 * 2
                        scratch = _GEMM_PIXELS * kpad * 2 + hp * wp * 2
                else:
                    arrays.insert(0, Array(f"{prefix}_w", "int16_t", _blocked_pairs(w2)))
                layer = Layer(name, "conv2d", xs[1:], ys[1:], out_h * out_w * out_c * k,
                              {"in_h": in_h, "in_w": in_w, "in_c": in_c, "out_h": out_h, "out_w": out_w, "out_c": out_c,
                               "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw, "pad_top": pt, "pad_left": pl,
                               "k_padded": kpad, "in_offset": in_off, "weights": "NULL" if packed else f"{prefix}_w",
                               "q": q, "packed": f"{prefix}_packed" if packed else "NULL"},
                              arrays, scratch_bytes=scratch, fast_requant=fast)
            else:
                w2 = w.reshape(kh * kw, in_c).T.astype(np.int64)  # [c][taps]
                if kw == 1 and sh == 1 and sw == 1 and pt == 0 and pl == 0 and out_w == in_w and in_h == out_h + kh - 1:
                    # No padding: every tap sees a real input, so the input offset folds into the bias
                    # (kws_nn_depthwise.c's time-only path reads the int8 input directly).
                    b = b + in_off * w2.sum(axis=1)
                    in_off = 0
                    bound = np.abs(b) + 128 * np.abs(w2).sum(axis=1)
                else:
                    bound = np.abs(b) + 255 * np.abs(w2).sum(axis=1)
                arrays, q, fast = _requant_arrays(prefix, in_scale, w_scales, out_scale, out_c, b, out_zp, act_min,
                                                  act_max, bound)
                arrays.insert(0, Array(f"{prefix}_w", "int16_t", w2.reshape(-1)))
                if kh > 16:
                    raise _unsupported("DEPTHWISE_CONV_2D kernels taller than 16")
                wpad = (out_w - 1) * sw + kw
                hpad = (out_h - 1) * sh + kh
                # kws_nn_depthwise.c: 4 zero-padded int16 planes stored by column (even column length,
                # one spare row for the dropped output of an odd out_h), then one channel's accumulators.
                hpad = (hpad + 1 + out_h % 2) // 2 * 2
                dw_scratch = 4 * wpad * hpad * 2 + 4 * (out_h + out_h % 2) * out_w
                layer = Layer(name, "depthwise", xs[1:], ys[1:], out_h * out_w * out_c * kh * kw,
                              {"in_h": in_h, "in_w": in_w, "c": in_c, "out_h": out_h, "out_w": out_w,
                               "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw, "pad_top": pt, "pad_left": pl,
                               "in_offset": in_off, "weights": f"{prefix}_w", "q": q},
                              arrays, in_place=(sh == 1 and xs == ys), scratch_bytes=dw_scratch,
                              fast_requant=fast)
        elif name == "AVERAGE_POOL_2D":
            act = _act(opts, name)
            if (in_scale, in_zp) != (out_scale, out_zp):
                raise _unsupported("AVERAGE_POOL_2D that changes quantization")
            _, in_h, in_w, c = xs
            _, out_h, out_w, _ = ys
            fh, fw, sh, sw = int(opts.filterHeight), int(opts.filterWidth), int(opts.strideH), int(opts.strideW)
            act_min, act_max = activation_range(act, out_scale, out_zp)
            layer = Layer(name, "avgpool", xs[1:], ys[1:], 0,
                          {"in_h": in_h, "in_w": in_w, "c": c, "out_h": out_h, "out_w": out_w, "f_h": fh, "f_w": fw,
                           "stride_h": sh, "stride_w": sw, "pad_top": _padding(int(opts.padding), sh, in_h, fh, out_h),
                           "pad_left": _padding(int(opts.padding), sw, in_w, fw, out_w),
                           "act_min": act_min, "act_max": act_max})
        elif name == "FULLY_CONNECTED":
            act = _act(opts, name)
            if int(getattr(opts, "weightsFormat", 0) or 0) != 0:
                raise _unsupported("FULLY_CONNECTED with shuffled weights")
            w = mdl.data(ins[1])
            if w is None or mdl.type(ins[1]) != _TFLITE_INT8:
                raise _unsupported("FULLY_CONNECTED with non-constant or non-int8 weights")
            w_scales, w_zps, _ = mdl.quant(ins[1])
            if np.any(w_zps != 0):
                raise _unsupported("FULLY_CONNECTED weights with a non-zero zero point")
            out_n, in_n = w.shape
            if int(np.prod(xs)) != in_n or int(np.prod(ys)) != out_n:
                raise _unsupported("batched FULLY_CONNECTED")
            bias = mdl.data(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            b = np.zeros(out_n, np.int64) if bias is None else bias.astype(np.int64).reshape(out_n)
            w2 = w.astype(np.int64)
            folded = b - in_zp * w2.sum(axis=1)
            act_min, act_max = activation_range(act, out_scale, out_zp)
            arrays, q, _ = _requant_arrays(prefix, in_scale, w_scales, out_scale, out_n, folded, out_zp, act_min, act_max,
                                           np.full(out_n, 2**40))  # never the fast path: the kernel is scalar
            arrays.insert(0, Array(f"{prefix}_w", "int8_t", w2.reshape(-1)))
            layer = Layer(name, "fc", [in_n], [out_n], in_n * out_n,
                          {"in_n": in_n, "out_n": out_n, "weights": f"{prefix}_w", "q": q}, arrays)
        elif name == "SOFTMAX":
            beta = float(opts.beta)
            if (out_scale, out_zp) != (1.0 / 256, -128):
                raise _unsupported("SOFTMAX with an output quantization other than 1/256, -128")
            depth = xs[-1]
            rows = int(np.prod(xs)) // depth
            # TFLite's PreprocessSoftmaxScaling with 5 integer bits for the scaled difference.
            real = min(beta * in_scale * (1 << (31 - 5)), (1 << 31) - 1.0)
            mult, left = quantize_multiplier(real)
            if left < 0:
                raise _unsupported("SOFTMAX with this input scale")
            radius = math.floor(1.0 * ((1 << 5) - 1) * (1 << (31 - 5)) / (1 << left))
            layer = Layer(name, "softmax", xs[1:], ys[1:], 0,
                          {"rows": rows, "depth": depth, "input_multiplier": mult, "input_left_shift": left,
                           "diff_min": -radius})
        else:  # pragma: no cover - filtered above
            raise _unsupported(f"op {name}")
        layer.out_tensor = y
        alias[y] = y
        current = y
        layers.append(layer)

    if not layers:
        raise _unsupported("a model without layers")
    if alias.get(t_out) != current:
        raise _unsupported("a model whose output is not its last layer's")
    return _memory_plan(layers, ops_used, int(np.prod(mdl.shape(t_in))), int(np.prod(mdl.shape(t_out))))


def _memory_plan(layers: list[Layer], ops: list[str], in_bytes: int, out_bytes: int) -> NativePlan:
    """Offsets in one arena: in place where allowed, else input and output at opposite ends.

    The first layer reads the caller's input and the last one writes the caller's output, so
    neither is in the arena. With a chain, "opposite ends" is enough: the arena is as large as
    the largest (input + output) of a layer that cannot run in place.
    """
    n = len(layers)
    for i, layer in enumerate(layers):
        if i == 0 or i == n - 1:
            layer.in_place = False
    size = 0
    for i, layer in enumerate(layers):
        need_in = layer.in_bytes if i > 0 else 0
        need_out = layer.out_bytes if i < n - 1 else 0
        size = max(size, max(need_in, need_out) if layer.in_place else need_in + need_out)
    size = (size + 3) // 4 * 4
    at_low = True
    for i, layer in enumerate(layers):
        layer.in_offset = -1 if i == 0 else layers[i - 1].out_offset
        if i == n - 1:
            layer.out_offset = -1
        elif layer.in_place:
            layer.out_offset = layer.in_offset
        else:
            if i > 0:
                at_low = not at_low
            # 4-byte aligned: the kernels read activations a word at a time.
            layer.out_offset = 0 if at_low else (size - layer.out_bytes) // 4 * 4
    scratch = max([l.scratch_bytes for l in layers] + [4])
    return NativePlan(layers, size, (scratch + 3) // 4 * 4, in_bytes, out_bytes, ops)


# --- streaming --------------------------------------------------------------------------------

#: Rows (feature frames) the streaming engine computes per kernel call at most: a 100 ms stride of 20 ms hops.
STREAM_CHUNK_ROWS = 5
_ROW_KERNELS = ("conv2d", "pointwise", "depthwise")


@dataclass
class StreamPlan:
    """How the native engine computes a model row by row (``kws_net_stream_*`` in the header).

    The layers before a global average pool are "row layers": convolutions whose time axis (the
    first) is "valid" with stride 1, so an output row depends on ``k_h`` input rows and nothing
    else. Each keeps its last ``k_h - 1`` input rows; the pool keeps the last ``pool_rows`` rows of
    its input and their running sums; the layers after it (dense, softmax) run once per stride.
    """

    window_rows: int
    row_bytes: int  # bytes of one input row (one feature frame)
    chunk_rows: int
    row_layers: list[int]  # indices into NativePlan.layers
    pool: int
    head: list[int]
    buffers: list[tuple[int, int]]  # per row layer: (rows held, bytes per row) of its input buffer
    last_rows: int  # rows of the last row layer's output buffer (the pool's new rows)
    pool_rows: int
    pool_row_bytes: int
    pool_channels: int
    head_bytes: int
    scratch_bytes: int
    macs_per_row: int
    head_macs: int

    @property
    def state_bytes(self) -> int:
        """Everything kept between strides, plus the per-stride buffers (static RAM, excluding scratch)."""
        bufs = sum(_align4(r * b) for r, b in self.buffers) + _align4(self.last_rows * self.pool_row_bytes)
        ring = _align4(self.pool_rows * self.pool_row_bytes) + 4 * self.pool_channels
        return bufs + ring + _align4(self.window_rows * self.row_bytes) + 2 * _align4(self.head_bytes) + 64

    @property
    def ram_bytes(self) -> int:
        return self.state_bytes + self.scratch_bytes

    def macs_per_stride(self, rows: int) -> int:
        return rows * self.macs_per_row + self.head_macs


def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


def _chunk_scratch(layer: Layer, rows: int) -> int:
    """Scratch of a row layer's kernel for ``rows`` output rows (the formulas of plan_native)."""
    p = layer.params
    if layer.kernel == "pointwise":
        return _GEMM_PIXELS * p["in_c"] * 2
    if layer.kernel == "conv2d":
        kpad = p["k_padded"]
        if p["packed"] != "NULL" and p["in_c"] == 1 and p["k_w"] % 4 == 0 and (p["stride_w"] % 2 == 0 or p["out_w"] == 1):
            hp, wp = (rows - 1) + p["k_h"], ((p["out_w"] - 1) * p["stride_w"] + p["k_w"] + 1) // 2 * 2
            return _GEMM_PIXELS * kpad * 2 + hp * wp * 2
        return _GEMM_PIXELS * kpad * 2
    wpad = (p["out_w"] - 1) * p["stride_w"] + p["k_w"]
    hpad = rows - 1 + p["k_h"]
    hpad = (hpad + 1 + rows % 2) // 2 * 2
    return 4 * wpad * hpad * 2 + 4 * (rows + rows % 2) * p["out_w"]


def stream_plan(plan: NativePlan, chunk_rows: int = STREAM_CHUNK_ROWS) -> tuple[StreamPlan | None, str]:
    """``(StreamPlan, "")`` when the model can run row by row, else ``(None, why not)``."""
    L = plan.layers
    pool = next((i for i, l in enumerate(L) if l.kernel not in _ROW_KERNELS), None)
    if pool is None or pool == 0 or L[pool].kernel != "avgpool":
        return None, "no convolutions followed by a global average pool"
    if any(l.kernel not in ("fc", "softmax") for l in L[pool + 1 :]):
        return None, "layers other than dense and softmax after the pool"
    for l in L[:pool]:
        p = l.params
        if l.kernel == "pointwise":
            continue
        if p["stride_h"] != 1 or p["pad_top"] != 0 or p["out_h"] != p["in_h"] - p["k_h"] + 1:
            return None, "time convolutions with padding or a stride (streaming needs 'valid' time, stride 1)"
    pp = L[pool].params
    if not (pp["f_h"] == pp["in_h"] and pp["f_w"] == pp["in_w"] and pp["out_h"] == 1 and pp["out_w"] == 1):
        return None, "an average pool that is not global"
    rows0 = L[0].in_shape[0]
    if rows0 * int(np.prod(L[0].in_shape[1:])) != plan.input_bytes:
        return None, "an input that is not the first layer's rows"
    k_of = lambda l: 1 if l.kernel == "pointwise" else l.params["k_h"]  # noqa: E731
    buffers = [(k_of(l) - 1 + chunk_rows, int(np.prod(l.in_shape[1:]))) for l in L[:pool]]
    macs_row = sum(l.macs // l.out_shape[0] for l in L[:pool])
    head_bytes = max([int(np.prod(l.out_shape)) for l in L[pool:]] + [4])
    scratch = max([_chunk_scratch(l, chunk_rows) for l in L[:pool]] + [4])
    return StreamPlan(rows0, int(np.prod(L[0].in_shape[1:])), chunk_rows, list(range(pool)), pool,
                      list(range(pool + 1, len(L))), buffers, chunk_rows, pp["in_h"], pp["in_w"] * pp["c"], pp["c"],
                      head_bytes, _align4(scratch), macs_row, sum(l.macs for l in L[pool + 1 :])), ""


def stream_plan_of(tflite: bytes) -> StreamPlan | None:
    """The model's :class:`StreamPlan`, or ``None`` when the native engine cannot run it or it cannot stream."""
    try:
        return stream_plan(plan_native(tflite))[0]
    except UserError:
        return None


def _render_stream(plan: NativePlan, sp: StreamPlan) -> str:
    """The streaming half of the header: state, ``kws_net_stream_reset/_rows/_scores/_window``."""
    L = plan.layers
    U = " __attribute__((aligned(4), unused))"
    out = [f"""
// --- Streaming mode: only the rows a stride adds ---------------------------------------------------
// Every convolution before the global average pool is 'valid' along time with stride 1, so a new
// input row (feature frame) adds exactly one row to each layer's output. Each such layer keeps its
// last k_h - 1 input rows; the pool keeps its last {sp.pool_rows} input rows in a ring with running
// int32 sums per channel; dense and softmax run once per stride. After KWS_NET_STREAM_WINDOW_ROWS rows
// since a reset the scores equal kws_net_invoke's on the last window, bit for bit.
// kws_net_stream_window(window, out) is the engine's entry: it finds how many of the window's rows are
// new since its previous call (the longest overlap of the two windows; a window that shares nothing
// restarts the state) and computes only those.
#define KWS_NET_STREAMABLE 1
#define KWS_NET_STREAM_WINDOW_ROWS {sp.window_rows}
#define KWS_NET_STREAM_ROW_BYTES {sp.row_bytes}
#define KWS_NET_STREAM_CHUNK_ROWS {sp.chunk_rows}
#define KWS_NET_STREAM_MACS_PER_ROW {sp.macs_per_row}
#define KWS_NET_STREAM_HEAD_MACS {sp.head_macs}
#define KWS_NET_STREAM_STATE_BYTES {sp.state_bytes}
#define KWS_NET_STREAM_SCRATCH_BYTES {sp.scratch_bytes}
#define KWS_NET_STREAM_RAM_BYTES {sp.ram_bytes}

"""]
    for i, (rows, rb) in enumerate(sp.buffers):
        out.append(f"static int8_t kws_net_s_in{i}[{rows * rb}]{U};  // layer {i}: {rows} rows x {rb} B\n")
    out.append(f"static int8_t kws_net_s_last_out[{sp.last_rows * sp.pool_row_bytes}]{U};\n")
    out.append(f"static int8_t kws_net_s_ring[{sp.pool_rows * sp.pool_row_bytes}]{U};\n")
    out.append(f"static int32_t kws_net_s_sum[{sp.pool_channels}]{U};\n")
    out.append(f"static int8_t kws_net_s_window[{sp.window_rows * sp.row_bytes}]{U};\n")
    out.append(f"static int8_t kws_net_s_head[2][{_align4(sp.head_bytes)}]{U};\n")
    out.append(f"static int16_t kws_net_s_scratch[{sp.scratch_bytes // 2}]{U};\n")
    out.append(f"static struct {{ int have[{len(sp.buffers)}]; int ring_pos, ring_count, primed; }} kws_net_s "
               "__attribute__((unused));\n\n")
    out.append("""__attribute__((unused)) static void kws_net_stream_reset(void) {
    memset(&kws_net_s, 0, sizeof(kws_net_s));
    memset(kws_net_s_sum, 0, sizeof(kws_net_s_sum));
}

""")
    pc, prb = sp.pool_channels, sp.pool_row_bytes
    out.append(f"""// The pool's new rows: into the ring, the oldest row's values out of the sums once it is full.
static void kws_net_stream_pool_rows(const int8_t *rows, int n) {{
    for (int r = 0; r < n; r++, rows += {prb}) {{
        int8_t *slot = kws_net_s_ring + kws_net_s.ring_pos * {prb};
        const int full = kws_net_s.ring_count == {sp.pool_rows};
        for (int i = 0; i < {prb}; i += {pc})
            for (int c = 0; c < {pc}; c++) {{
                kws_net_s_sum[c] += rows[i + c] - (full ? slot[i + c] : 0);
                slot[i + c] = rows[i + c];
            }}
        kws_net_s.ring_pos = kws_net_s.ring_pos + 1 == {sp.pool_rows} ? 0 : kws_net_s.ring_pos + 1;
        if (kws_net_s.ring_count < {sp.pool_rows}) kws_net_s.ring_count++;
    }}
}}

// Push n <= KWS_NET_STREAM_CHUNK_ROWS new input rows through the row layers.
__attribute__((unused)) static void kws_net_stream_rows(const int8_t *rows, int n) {{
    memcpy(kws_net_s_in0 + kws_net_s.have[0] * {sp.buffers[0][1]}, rows, (size_t)n * {sp.buffers[0][1]});
    kws_net_s.have[0] += n;
""")
    struct_of = {"conv2d": "kws_nn_conv_t", "pointwise": "kws_nn_pointwise_t", "depthwise": "kws_nn_depthwise_t"}
    for i in sp.row_layers:
        l = L[i]
        k = 1 if l.kernel == "pointwise" else l.params["k_h"]
        rb = sp.buffers[i][1]
        last = i == sp.row_layers[-1]
        dst = "kws_net_s_last_out" if last else f"kws_net_s_in{i + 1} + kws_net_s.have[{i + 1}] * {sp.buffers[i + 1][1]}"
        if l.kernel == "pointwise":
            setp = f"p.n_pix = (uint16_t)(n * {l.out_shape[1]});"
        else:
            setp = f"p.in_h = (uint16_t)kws_net_s.have[{i}]; p.out_h = (uint16_t)n;"
        out.append(f"    n = kws_net_s.have[{i}] - {k - 1};\n    if (n <= 0) return;\n")
        out.append(f"    {{ {struct_of[l.kernel]} p = kws_net_l{i}; {setp}\n"
                   f"      kws_nn_{l.kernel}(&p, kws_net_s_in{i}, {dst}, kws_net_s_scratch); }}\n")
        if k > 1:
            out.append(f"    memmove(kws_net_s_in{i}, kws_net_s_in{i} + n * {rb}, {(k - 1) * rb});\n")
        out.append(f"    kws_net_s.have[{i}] = {k - 1};\n")
        if not last:
            out.append(f"    kws_net_s.have[{i + 1}] += n;\n")
    out.append("    kws_net_stream_pool_rows(kws_net_s_last_out, n);\n}\n\n")
    pool = L[sp.pool].params
    count = sp.pool_rows * (prb // pc)
    out.append(f"""// The scores of the last window (valid once the pool's ring is full).
__attribute__((unused)) static void kws_net_stream_scores(int8_t *out) {{
    int8_t *x = kws_net_s_head[0];
    for (int c = 0; c < {pc}; c++) {{
        int32_t acc = kws_net_s_sum[c];
        acc = acc > 0 ? (acc + {count // 2}) / {count} : (acc - {count // 2}) / {count};
        x[c] = (int8_t)(acc < {pool['act_min']} ? {pool['act_min']} : acc > {pool['act_max']} ? {pool['act_max']} : acc);
    }}
""")
    for j, i in enumerate(sp.head):
        src = f"kws_net_s_head[{j % 2}]"
        dst = "out" if i == sp.head[-1] else f"kws_net_s_head[{(j + 1) % 2}]"
        out.append(f"    kws_nn_{L[i].kernel}(&kws_net_l{i}, {src}, {dst});\n")
    if not sp.head:
        out.append(f"    memcpy(out, x, {pc});\n")
    R, W = sp.row_bytes, sp.window_rows
    out.append(f"""}}

// One window in, its scores out, computing only the rows that are new since the previous call.
// Returns how many rows it computed (KWS_NET_STREAM_WINDOW_ROWS after a restart).
__attribute__((unused)) static int kws_net_stream_window(const int8_t *in, int8_t *out) {{
    int s = {W};
    if (kws_net_s.primed)
        for (s = 0; s < {W}; s++)
            if (memcmp(kws_net_s_window + s * {R}, in, (size_t)({W} - s) * {R}) == 0) break;
    if (s == {W}) kws_net_stream_reset();
    for (int r = {W} - s; r < {W}; r += KWS_NET_STREAM_CHUNK_ROWS)
        kws_net_stream_rows(in + r * {R}, {W} - r < KWS_NET_STREAM_CHUNK_ROWS ? {W} - r : KWS_NET_STREAM_CHUNK_ROWS);
    memcpy(kws_net_s_window, in, sizeof(kws_net_s_window));
    kws_net_s.primed = 1;
    kws_net_stream_scores(out);
    return s;
}}
""")
    return "".join(out)


# --- rendering -----------------------------------------------------------------------------------

_STRUCTS = {"conv2d": "kws_nn_conv_t", "pointwise": "kws_nn_pointwise_t", "depthwise": "kws_nn_depthwise_t",
            "avgpool": "kws_nn_avgpool_t", "fc": "kws_nn_fc_t", "softmax": "kws_nn_softmax_t"}
_WITH_SCRATCH = {"conv2d", "pointwise", "depthwise"}


def _c_array(a: Array) -> str:
    vals = [str(int(v)) for v in np.asarray(a.values).reshape(-1)]
    rows = [", ".join(vals[i : i + 16]) for i in range(0, len(vals), 16)]
    align = " __attribute__((aligned(4)))" if a.ctype != "int8_t" or a.name.endswith("_w") else ""
    return f"static const {a.ctype} {a.name}[{len(vals)}]{align} = {{\n    " + ",\n    ".join(rows) + "\n};\n"


def _c_init(params: dict) -> str:
    parts = []
    for k, v in params.items():
        if isinstance(v, dict):
            parts.append(f".{k} = {{{_c_init(v)}}}")
        else:
            parts.append(f".{k} = {v}")
    return ", ".join(parts)


def render_native_model(tflite: bytes, *, name: str = "model") -> str:
    """The text of ``kws_net_model.h`` for ``tflite``."""
    from tinykws.io import sha256_bytes

    plan = plan_native(tflite)
    L = plan.layers
    out = [f"""// Generated by `tinykws export` from {name} (model sha256 {sha256_bytes(tflite)}).
// Do not edit: re-export instead.
//
// The int8 keyword model for tinykws's own kernels (firmware/lib/kws_nn): pre-arranged weights,
// TFLM's requantization constants, a static memory plan and the layers as straight-line calls.
// Include it in exactly one C file. kws_net_invoke(in, out) runs one window (int8
// [KWS_NET_INPUT_BYTES] in, int8 scores [KWS_NET_OUTPUT_BYTES] out); define
// KWS_NET_LAYER_DONE(index, data, bytes) before including it to observe every layer's output.
// KWS_NET_WEIGHTS_CRC32 is CRC-32 (zlib) over every const array below, in order, as
// little-endian bytes; kws_net_weights_crc32() recomputes it from flash.
#pragma once
#include <stdint.h>
#include <string.h>

#include "kws_nn.h"

#ifndef KWS_NET_LAYER_DONE
#define KWS_NET_LAYER_DONE(index, data, bytes) ((void)0)
#endif

#define KWS_NET_MODEL_HASH "{sha256_bytes(tflite)}"
#define KWS_NET_OPS "{','.join(plan.ops)}"
#define KWS_NET_NUM_LAYERS {len(L)}
#define KWS_NET_INPUT_BYTES {plan.input_bytes}
#define KWS_NET_OUTPUT_BYTES {plan.output_bytes}
#define KWS_NET_MACS {plan.macs}
// RAM: the activation arena plus the kernels' scratch (statically allocated below).
#define KWS_NET_ARENA_BYTES {plan.arena_bytes}
#define KWS_NET_SCRATCH_BYTES {plan.scratch_bytes}
#define KWS_NET_RAM_BYTES {plan.ram_bytes}
#define KWS_NET_WEIGHTS_BYTES {plan.weights_bytes}
#define KWS_NET_WEIGHTS_CRC32 0x{plan.weights_crc32:08X}u

"""]
    for i, layer in enumerate(L):
        place = "in place" if layer.in_place else "out of place"
        fast = ", DSP fast requantization" if layer.fast_requant else ""
        out.append(f"// Layer {i}: {layer.op} ({layer.kernel}) {layer.in_shape} -> {layer.out_shape}, "
                   f"{layer.macs} MACs, {place}{fast}\n")
        for a in layer.arrays:
            out.append(_c_array(a))
        out.append(f"static const {_STRUCTS[layer.kernel]} kws_net_l{i} = {{{_c_init(layer.params)}}};\n\n")
    out.append(f"""static int8_t kws_net_arena[KWS_NET_ARENA_BYTES] __attribute__((aligned(4)));
static int16_t kws_net_scratch[KWS_NET_SCRATCH_BYTES / 2] __attribute__((aligned(4)));

static uint32_t kws_net_weights_crc32(void) {{
    uint32_t crc = 0;
""")
    for a in plan.arrays:
        out.append(f"    crc = kws_nn_crc32(crc, {a.name}, sizeof({a.name}));\n")
    out.append("""    return crc;
}

static void kws_net_invoke(const int8_t *in, int8_t *out) {
""")
    for i, layer in enumerate(L):
        src = "in" if layer.in_offset < 0 else f"kws_net_arena + {layer.in_offset}"
        dst = "out" if layer.out_offset < 0 else f"kws_net_arena + {layer.out_offset}"
        scratch = ", kws_net_scratch" if layer.kernel in _WITH_SCRATCH else ""
        out.append(f"    kws_nn_{layer.kernel}(&kws_net_l{i}, {src}, {dst}{scratch});\n")
        out.append(f"    KWS_NET_LAYER_DONE({i}, {dst}, {layer.out_bytes});\n")
    out.append("}\n")
    sp, _ = stream_plan(plan)
    if sp is not None:
        out.append(_render_stream(plan, sp))
    return "".join(out)


def native_model_info(tflite: bytes, plan: NativePlan | None = None) -> dict:
    """What the native engine needs for this model (for model.json and the fit report); ``plan``:
    its :func:`plan_native`, when the caller has it."""
    plan = plan or plan_native(tflite)
    return {
        "ram_bytes": plan.ram_bytes,
        "arena_bytes": plan.arena_bytes,
        "scratch_bytes": plan.scratch_bytes,
        "weights_bytes": plan.weights_bytes,
        "weights_crc32": f"{plan.weights_crc32:08x}",
        "macs": plan.macs,
        "ops": list(plan.ops),
        "layers": [{"op": l.op, "kernel": l.kernel, "in_shape": list(map(int, l.in_shape)),
                    "out_shape": list(map(int, l.out_shape)), "macs": int(l.macs), "in_place": bool(l.in_place),
                    "fast_requant": bool(l.fast_requant), "tensor": int(l.out_tensor)} for l in plan.layers],
    }


def native_summary(tflite: bytes) -> dict:
    """The ``native`` entry of ``model.json``: RAM, weights and the layers, or why the engine cannot run the model."""
    try:
        plan = plan_native(tflite)
    except UserError as e:
        return {"supported": False, "reason": str(e)}
    info = native_model_info(tflite, plan)
    sp, why = stream_plan(plan)
    stream = ({"supported": False, "reason": why} if sp is None else
              {"supported": True, "ram_bytes": sp.ram_bytes, "state_bytes": sp.state_bytes,
               "scratch_bytes": sp.scratch_bytes, "chunk_rows": sp.chunk_rows, "macs_per_row": sp.macs_per_row,
               "head_macs": sp.head_macs, "window_rows": sp.window_rows})
    return {
        "supported": True,
        "stream": stream,
        "ram_bytes": info["ram_bytes"],
        "arena_bytes": info["arena_bytes"],
        "scratch_bytes": info["scratch_bytes"],
        "weights_bytes": info["weights_bytes"],
        "weights_crc32": info["weights_crc32"],
        "macs": info["macs"],
        "layers": [{k: l[k] for k in ("op", "kernel", "in_shape", "out_shape", "macs", "in_place")} for l in info["layers"]],
    }


def write_native_model(tflite: bytes, path, *, name: str = "model"):
    """Write ``kws_net_model.h`` atomically; returns its path.

    A model the native engine cannot run still gets the file (training writes every run's model
    folder), holding only an ``#error`` that says why: a build stops with that line instead of a
    missing-file error. ``tinykws export`` refuses such a model before writing anything.
    """
    from pathlib import Path

    from tinykws.io import atomic_write_text

    try:
        text = render_native_model(tflite, name=name)
    except UserError as e:
        reason = str(e).replace('"', "'")
        text = (f"// Generated by `tinykws export` from {name}. The native engine cannot run this model.\n"
                f"#pragma once\n#error \"{reason}\"\n")
    return atomic_write_text(Path(path), text)
