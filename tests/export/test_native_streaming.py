"""The native engine's streaming mode: only the rows a stride adds, the whole window's scores bit for bit.

A streamable architecture (tinykws.model.architectures.STREAMING_ARCHITECTURES) with random weights
is converted to full int8 and run on streams: consecutive windows of one feature stream a stride
apart (1, 5 and 7 rows, and after a gap), on both kernel paths. Every window's streaming scores must
equal tflite-micro's on the whole window, and the engine must have computed only the new rows. The
real Cortex-M4 code is checked under QEMU in tests/boardcode/test_native_engine_qemu.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinykws.spec import FeatureSpec

SPEC = FeatureSpec()


@pytest.fixture(scope="module")
def tcn_model(tone_features_stream) -> bytes:
    from tests.export.test_native_engine import random_int8_model

    return random_int8_model("ds-tcn-s", tone_features_stream[:24 * SPEC.n_frames].reshape(24, SPEC.n_frames, -1), seed=4)


@pytest.fixture(scope="module")
def tone_features_stream() -> np.ndarray:
    """MFCC frames of tones, chirps and noise back to back: one stream [frames, n_mfcc]."""
    from tests.export.test_native_engine import tone_clips
    from tinykws.features import compute_mfcc

    return compute_mfcc(tone_clips(24, seed=5), SPEC).astype(np.float32).reshape(-1, SPEC.n_mfcc)


def stream_windows(rows: np.ndarray, step: int, n: int | None = None) -> list[np.ndarray]:
    ends = range(SPEC.n_frames, len(rows) + 1, step)
    return [rows[e - SPEC.n_frames : e] for e in list(ends)[:n]]


def check_stream(tflite: bytes, rows: np.ndarray, steps=(5, 1, 7)) -> None:
    from tinykws.boardcode.native_engine import NativeNet
    from tinykws.boardcode.tflm import TflmModel

    tflm = TflmModel(tflite, 400_000)
    for path in ("portable", "dsp"):
        net = NativeNet(tflite, path)
        assert net.streamable
        for step in steps:
            for i, w in enumerate(stream_windows(rows, step, 40)):
                got, computed = net.stream(w)
                np.testing.assert_array_equal(got, tflm.predict_one(w), err_msg=f"{path}, step {step}, window {i}")
                if i > 0:
                    assert computed == step, f"{path}: {computed} rows computed for a {step}-row stride"


def test_streaming_equals_tflm_on_a_feature_stream(tcn_model, tone_features_stream):
    from tests.export.test_native_engine import quantized

    check_stream(tcn_model, quantized(tone_features_stream, tcn_model))


def test_streaming_equals_tflm_on_real_speech(tcn_model, shared_speech):
    from tests.export.test_native_engine import quantized
    from tinykws.data.audio import load_audio
    from tinykws.boardcode.native import StreamingMfcc

    clips = [load_audio(p, SPEC.sample_rate).y for w in ("yes", "no", "left", "stop") for p in sorted((shared_speech / w).glob("*.wav"))[:3]]
    frames = StreamingMfcc(SPEC).push((np.concatenate(clips) * 32767).astype(np.int16))
    check_stream(tcn_model, quantized(frames, tcn_model), steps=(5, 3))


def test_a_window_that_shares_nothing_restarts_the_state(tcn_model, tone_features_stream):
    from tests.export.test_native_engine import quantized
    from tinykws.boardcode.native_engine import NativeNet

    rows = quantized(tone_features_stream, tcn_model)
    net = NativeNet(tcn_model)
    first, later = rows[: SPEC.n_frames], rows[300 : 300 + SPEC.n_frames]
    assert net.stream(first)[1] == SPEC.n_frames
    assert net.stream(first)[1] == 0  # the same window again: nothing new
    got, computed = net.stream(later)  # a gap: no overlap with the previous window
    assert computed == SPEC.n_frames
    np.testing.assert_array_equal(got, net.run(later)[0])


def test_models_that_cannot_stream_say_why(tone_features_stream):
    from tests.export.test_native_engine import random_int8_model
    from tinykws.export.native import native_summary, plan_native, render_native_model, stream_plan

    feats = tone_features_stream[: 8 * SPEC.n_frames].reshape(8, SPEC.n_frames, -1)
    tflite = random_int8_model("ds-cnn-xs", feats)
    sp, why = stream_plan(plan_native(tflite))
    assert sp is None and "valid" in why
    assert "KWS_NET_STREAMABLE" not in render_native_model(tflite)
    assert native_summary(tflite)["stream"] == {"supported": False, "reason": why}


def test_stream_plan_counts_the_state_and_the_work(tcn_model):
    from tinykws.export.native import native_summary, plan_native, stream_plan

    plan = plan_native(tcn_model)
    sp, _ = stream_plan(plan)
    assert sp.window_rows == SPEC.n_frames and sp.row_bytes == SPEC.n_mfcc
    # One new row costs each row layer's MACs for one of its output rows.
    assert sp.macs_per_row == sum(l.macs // l.out_shape[0] for l in plan.layers[: sp.pool])
    assert sp.macs_per_stride(5) < plan.macs / 5
    s = native_summary(tcn_model)["stream"]
    assert s["supported"] and s["ram_bytes"] == sp.state_bytes + sp.scratch_bytes


def test_the_estimate_lets_a_streaming_model_take_short_strides(tcn_model):
    from tinykws.export.latency import inference_instructions, shortest_sustainable_stride, stride_instructions

    whole = inference_instructions(tcn_model, "native")
    assert stride_instructions(tcn_model, 5) < whole / 4
    assert stride_instructions(tcn_model, 1) < stride_instructions(tcn_model, 5)
    assert shortest_sustainable_stride(tcn_model, SPEC, "nano33ble") == SPEC.hop_ms
