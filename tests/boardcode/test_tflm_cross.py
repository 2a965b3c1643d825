"""TFLM with CMSIS-NN, built with the board's flags for a Cortex-M4 and run under QEMU, against tflite-micro.

The image runs the QEMU comparator's TFLM engine (firmware/test/qemu/tflm_engine.cpp, the firmware's former
TFLM engine; the firmware itself runs the native engine only) on the shipped model; its scores must equal the
tflite-micro package's interpreter on every window. No package ships TFLM's sources (the tflite-micro wheel
holds a compiled library, no headers), so CI cannot build this: the tests run only when TINYKWS_TFLM_DIR names
a local copy of tinykws.boardcode.tflm_cross.TFLM_LIBRARY. Each test session compiles the library once
(minutes) into its own cache, unless TINYKWS_TFLM_CACHE names a folder to keep the compiled library in.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from tinykws.boardcode.cross import toolchain_missing

TFLM_DIR = os.environ.get("TINYKWS_TFLM_DIR")

pytestmark = [
    pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing())),
    pytest.mark.skipif(not TFLM_DIR, reason="no package ships TFLM's sources, so CI cannot build the QEMU comparator "
                                            "(firmware/test/qemu/tflm_engine.cpp); set TINYKWS_TFLM_DIR to a local copy "
                                            "of tinykws.boardcode.tflm_cross.TFLM_LIBRARY to run it"),
]


@pytest.fixture(scope="module")
def shipped_on_qemu():
    """(tflite bytes, windows, the image's result) for the shipped model on a few windows."""
    from tests.export.test_native_engine import quantized, tone_clips
    from tinykws.export.carray import parse_c_array
    from tinykws.features import compute_mfcc
    from tinykws.paths import default_model_dir
    from tinykws.spec import FeatureSpec
    from tinykws.boardcode.tflm_cross import measure_tflm

    model_dir = default_model_dir()
    tflite = parse_c_array((model_dir / "kws_model.cc").read_text())
    rng = np.random.default_rng(21)
    windows = np.concatenate([rng.integers(-128, 128, (2, 490)).astype(np.int8),
                              quantized(compute_mfcc(tone_clips(3, seed=22), FeatureSpec()), tflite).reshape(3, -1)])
    return tflite, windows, measure_tflm(Path(TFLM_DIR), model_dir, windows)


def host_scores(tflite: bytes, windows: np.ndarray) -> np.ndarray:
    from tinykws.boardcode.native_engine import TflmLayers

    ref = TflmLayers(tflite)
    return np.stack([ref.run(x, [])[0].astype(np.int8) for x in windows])


def with_per_tensor_fully_connected(tflite: bytes) -> bytes:
    """The model with every FULLY_CONNECTED weight and bias scale replaced by the first channel's."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytes(tflite), 0))
    g = m.subgraphs[0]
    for op in g.operators:
        if m.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.FULLY_CONNECTED:
            for t in op.inputs[1:]:
                q = g.tensors[t].quantization if t >= 0 else None
                if q is not None and q.scale is not None and len(q.scale) > 1:
                    q.scale = [q.scale[0]] * len(q.scale)
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_tflm_image_equals_tflite_micro(shipped_on_qemu):
    from tinykws.boardcode.tflm_cross import per_channel_fully_connected

    tflite, windows, r = shipped_on_qemu
    fc = per_channel_fully_connected(tflite)
    np.testing.assert_array_equal(r["scores"], host_scores(tflite, windows), err_msg=(
        f"FULLY_CONNECTED operators {fc} have per-channel weights, which this TFLM quantizes per tensor" if fc else ""))


def test_tflm_image_is_tflite_micro_with_per_tensor_fully_connected(shipped_on_qemu):
    """Everything but FULLY_CONNECTED's per-channel scales is TFLM's arithmetic, bit for bit."""
    tflite, windows, r = shipped_on_qemu
    np.testing.assert_array_equal(r["scores"], host_scores(with_per_tensor_fully_connected(tflite), windows))
    assert 0 < r["arena_used_bytes"] <= r["arena_reserved_bytes"]
    assert r["code_bytes"] > 10_000 and np.all(r["instructions"] > 0)
