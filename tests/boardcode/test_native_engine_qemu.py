"""The native engine's real Cortex-M4 code (DSP and portable paths, the board's flags) under QEMU equals TFLM.

The images print every window's scores and a CRC-32 of every layer's output; both are compared
with the tflite-micro interpreter's, for the shipped model and for every architecture with random
weights.
"""

import zlib
from pathlib import Path

import numpy as np
import pytest

from tinykws.boardcode.cross import board_flags, toolchain_missing

pytestmark = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))

#: The Nano 33 BLE's real C flags (-Os, -std=gnu11, ...): the code the board runs.
BOARD_FLAGS = board_flags("c")


def tflm_reference(tflite: bytes, windows: np.ndarray) -> tuple[list, list]:
    """The tflite-micro interpreter's int8 scores and the CRC-32 of every layer's output, per window."""
    from tinykws.boardcode.native_engine import TflmLayers
    from tinykws.export.native import native_model_info

    tensors = [l["tensor"] for l in native_model_info(tflite)["layers"]]
    ref = TflmLayers(tflite)
    scores, crcs = [], []
    for x in windows:
        out, layers = ref.run(x, tensors)
        scores.append(out.astype(np.int8))
        crcs.append([zlib.crc32(layers[t].astype(np.int8).tobytes()) for t in tensors])
    return scores, crcs


def check_on_qemu(tflite: bytes, windows: np.ndarray, tmp_path: Path) -> float:
    """Both paths equal TFLM on every layer; returns the DSP path's mean instructions per call."""
    from tinykws.export.native import native_model_info, render_native_model
    from tinykws.boardcode.cross import build_engine_image, run_engine_image

    info = native_model_info(tflite)
    want_scores, want_crcs = tflm_reference(tflite, windows)
    header = render_native_model(tflite)
    dsp_instructions = 0.0
    for portable in (False, True):
        r = run_engine_image(build_engine_image(header, windows, tmp_path / str(portable), flags=BOARD_FLAGS,
                                                portable=portable))
        assert r["dsp"] == (not portable)
        assert r["weights_crc32"] == int(info["weights_crc32"], 16)
        for i in range(len(windows)):
            bad = [l for l, (a, b) in enumerate(zip(r["layer_crc32"][i], want_crcs[i])) if a != b]
            assert not bad, f"{'portable' if portable else 'DSP'} path, window {i}: layers {bad} differ from TFLM"
        np.testing.assert_array_equal(r["scores"], np.stack(want_scores))
        if not portable:
            dsp_instructions = float(np.mean(r["instructions"]))
    return dsp_instructions


def check_estimate(tflite: bytes, measured: float, tolerance: float) -> None:
    """The export's latency estimate (tinykws.export.latency) stays close to what QEMU counts."""
    from tinykws.export.latency import inference_instructions

    est = inference_instructions(tflite, "native")
    print(f"native engine: {measured:,.0f} instructions measured, {est:,.0f} estimated ({est / measured - 1:+.1%})")
    assert abs(est / measured - 1) <= tolerance


def test_shipped_model_on_cortex_m4(tmp_path):
    from tests.export.test_native_engine import quantized, shipped_model, tone_clips
    from tinykws.features import compute_mfcc
    from tinykws.spec import FeatureSpec

    tflite = shipped_model()
    rng = np.random.default_rng(11)
    windows = np.concatenate([rng.integers(-128, 128, (4, 490)).astype(np.int8),
                              quantized(compute_mfcc(tone_clips(8, seed=12), FeatureSpec()), tflite).reshape(8, -1)])
    check_estimate(tflite, check_on_qemu(tflite, windows, tmp_path), 0.02)


@pytest.mark.parametrize("arch", ["ds-cnn-xs", "tiny-conv", "ds-tcn-s"])
def test_random_architectures_on_cortex_m4(arch, tmp_path):
    from tests.export.test_native_engine import quantized, random_int8_model, tone_clips
    from tinykws.features import compute_mfcc
    from tinykws.spec import FeatureSpec

    feats = compute_mfcc(tone_clips(16, seed=13), FeatureSpec()).astype(np.float32)
    tflite = random_int8_model(arch, feats, seed=2)
    rng = np.random.default_rng(3)
    windows = np.concatenate([rng.integers(-128, 128, (4, 490)).astype(np.int8), quantized(feats[:6], tflite).reshape(6, -1)])
    # Other shapes than the calibration model's: the per-op constants still hold within a quarter.
    check_estimate(tflite, check_on_qemu(tflite, windows, tmp_path), 0.25)


def test_streaming_mode_on_cortex_m4(tmp_path):
    """ds-tcn-s in streaming mode on the board's code (both paths): the scores of every window of a
    stream, computing only the 5 new rows per 100 ms stride, equal tflite-micro's on the whole window."""
    from tests.export.test_native_engine import quantized, random_int8_model, tone_clips
    from tinykws.export.latency import stride_instructions
    from tinykws.export.native import render_native_model
    from tinykws.features import compute_mfcc
    from tinykws.spec import FeatureSpec
    from tinykws.boardcode.cross import build_engine_image, run_engine_image
    from tinykws.boardcode.tflm import TflmModel

    spec = FeatureSpec()
    feats = compute_mfcc(tone_clips(12, seed=21), spec).astype(np.float32)
    tflite = random_int8_model("ds-tcn-s", feats, seed=6)
    rows = quantized(feats.reshape(-1, spec.n_mfcc), tflite)
    windows = np.stack([rows[e - spec.n_frames : e].reshape(-1) for e in range(spec.n_frames, spec.n_frames + 5 * 12, 5)])
    want = np.stack([TflmModel(tflite, 400_000).predict_one(w.reshape(spec.n_frames, -1)) for w in windows])
    header = render_native_model(tflite)
    for portable in (False, True):
        r = run_engine_image(build_engine_image(header, windows[:2], tmp_path / str(portable), flags=BOARD_FLAGS,
                                                portable=portable, stream_windows=windows))
        np.testing.assert_array_equal(r["stream_scores"], want)
        assert list(r["stream_rows"]) == [spec.n_frames] + [5] * (len(windows) - 1)
        per_stride = float(r["stream_instructions"][1:].mean())
        assert per_stride < float(r["instructions"].mean()) / 4  # the point of it
        if not portable:
            est = stride_instructions(tflite, 5)
            print(f"streaming: {per_stride:,.0f} instructions per stride measured, {est:,.0f} estimated")
            assert abs(est / per_stride - 1) <= 0.25
