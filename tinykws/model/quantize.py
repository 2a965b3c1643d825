"""Full-integer post-training quantization and the int8 input/output arithmetic.

:func:`convert_int8` turns a trained Keras model into a ``.tflite`` flatbuffer
whose weights, activations, input and output are all int8, calibrated on a
representative sample of training features. :func:`quantize_input` is the
exact mapping the firmware applies to MFCCs (``round`` half to even, as numpy
and C's ``rintf`` under the default rounding mode do).
"""

from __future__ import annotations

import numpy as np


def quantize_input(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float features to the model's int8 input: ``clip(rint(x / scale) + zp, -128, 127)``."""
    q = np.rint(np.asarray(x, np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 to float: ``(q - zp) * scale``."""
    return ((np.asarray(q, np.int32) - zero_point) * np.float32(scale)).astype(np.float32)


def convert_float(model) -> bytes:
    """Float32 ``.tflite`` (for reference comparisons only)."""
    return _quiet_convert(_converter(model))


def _converter(model):
    """A converter for a copy of ``model`` with a fixed batch of one.

    With the batch size known, Keras' reshapes fold to constants, so the
    flatbuffer has no SHAPE / STRIDED_SLICE / PACK ops for the firmware to carry.
    """
    import keras
    import tensorflow as tf

    shape = (1, *[int(d) for d in model.inputs[0].shape[1:]])
    fixed = keras.models.clone_model(model, input_tensors=keras.Input(batch_shape=shape, name="mfcc"))
    fixed.set_weights(model.get_weights())
    return tf.lite.TFLiteConverter.from_keras_model(fixed)


def convert_int8(model, representative: np.ndarray, *, max_samples: int = 400, seed: int = 0) -> bytes:
    """Full-int8 ``.tflite`` with int8 input and output.

    Parameters
    ----------
    model : keras.Model
    representative : np.ndarray [shape=(n, n_frames, n_mfcc), float32]
        Calibration features; up to ``max_samples`` are drawn (seeded).
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(representative))[:max_samples]
    sample = representative[np.sort(idx)].astype(np.float32)

    def gen():
        for x in sample:
            yield [x[None]]

    conv = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    # One scale for FULLY_CONNECTED weights, not one per output: the TFLM library of the QEMU
    # comparator (Chirale_TensorFlowLite 2.0.0, 2023-01; firmware/test/qemu/tflm_engine.cpp) applies
    # the first channel's scale to every output of a per-channel fully connected layer, so it would
    # compute other scores than the laptop (measured: up to 12 steps of 1/256). Convolutions stay per channel.
    conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return _quiet_convert(conv)


def _quiet_convert(conv) -> bytes:
    """Run the converter without its prints (Python and C++) reaching the user's terminal."""
    import contextlib
    import io

    from tinykws.io import quiet_fd

    with contextlib.redirect_stdout(io.StringIO()), quiet_fd(1), quiet_fd(2):
        return conv.convert()


def tflite_io_quantization(tflite: bytes) -> dict:
    """Input/output scale and zero point and shapes, read with tf.lite."""
    import tensorflow as tf

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = tf.lite.Interpreter(model_content=tflite)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    return {
        "input_scale": float(i["quantization"][0]),
        "input_zero_point": int(i["quantization"][1]),
        "input_shape": [int(v) for v in i["shape"]],
        "input_dtype": np.dtype(i["dtype"]).name,
        "output_scale": float(o["quantization"][0]),
        "output_zero_point": int(o["quantization"][1]),
        "output_dtype": np.dtype(o["dtype"]).name,
    }


def tflite_predict(tflite: bytes, x: np.ndarray) -> np.ndarray:
    """Run a ``.tflite`` with tf.lite (XNNPACK off) over ``x`` one clip at a time; raw outputs."""
    import tensorflow as tf

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = tf.lite.Interpreter(
            model_content=tflite,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    out = []
    for xi in x:
        it.set_tensor(i["index"], xi[None].astype(i["dtype"]))
        it.invoke()
        out.append(it.get_tensor(o["index"])[0].copy())
    return np.stack(out) if out else np.zeros((0, int(o["shape"][-1])), o["dtype"])


def builtin_ops(tflite: bytes) -> list[str]:
    """Builtin operator names the model uses (e.g. ``CONV_2D``), in first-use order."""
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for oc in m.operatorCodes:
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        codes.append(names.get(code, f"UNKNOWN_{code}"))
    used = []
    for sg in m.subgraphs:
        for op in sg.operators:
            n = codes[op.opcodeIndex]
            if n not in used:
                used.append(n)
    return used
