"""The native engine (generated kws_net_model.h + firmware/lib/kws_nn) equals TFLM, layer by layer, bit for bit.

Every architecture is built with random weights (batch norm statistics randomised too, so the
folded per-channel scales differ), converted with the project's own full-int8 path, and run on
random int8 windows and on real-looking ones (MFCC of tones, chirps and noise; real speech when
shared/datasets/speech_commands_mini exists). Both kernel paths run on the host: the portable C
and the DSP kernels with C versions of the intrinsics. The real DSP instructions are checked
under QEMU in tests/boardcode/test_native_engine_qemu.py.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from tinykws.errors import UserError
from tinykws.model.architectures import ARCHITECTURES
from tinykws.spec import FeatureSpec

SPEC = FeatureSpec()
SR = 16000


def tone_clips(n: int, seed: int) -> np.ndarray:
    """Tones, chirps and noise at several levels: int16 [n, 16000]."""
    from tests.helpers import chirp

    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    clips = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            y = np.sin(2 * np.pi * rng.uniform(100, 4000) * t) * rng.uniform(0.01, 0.9)
        elif kind == 1:
            y = np.zeros(SR)
            c = chirp(rng.uniform(200, 3000), rng.uniform(200, 3000), 0.5)
            s = int(rng.integers(0, SR - len(c)))
            y[s : s + len(c)] = c * rng.uniform(0.05, 0.8)
        elif kind == 2:
            y = rng.normal(0, rng.uniform(0.001, 0.3), SR)
        else:
            y = np.zeros(SR)
        y = y + rng.normal(0, 0.002, SR)
        clips.append(np.clip(y * 32767, -32768, 32767).astype(np.int16))
    return np.stack(clips)


@pytest.fixture(scope="module")
def tone_features() -> np.ndarray:
    from tinykws.features import compute_mfcc

    return compute_mfcc(tone_clips(24, seed=3), SPEC).astype(np.float32)


def random_int8_model(arch: str, features: np.ndarray, *, seed: int = 0, n_labels: int = 5) -> bytes:
    """The architecture with random weights and batch-norm statistics, converted to full int8."""
    import keras

    from tinykws.model.architectures import build_model
    from tinykws.model.quantize import convert_int8

    keras.utils.set_random_seed(seed)
    model = build_model(arch, (SPEC.n_frames, SPEC.n_mfcc), n_labels)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.2, b.shape), rng.normal(0, 0.5, m.shape),
                               rng.uniform(0.5, 2.0, v.shape)])
    return convert_int8(model, features, max_samples=len(features), seed=seed)


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def arch_model(request, tone_features) -> tuple[str, bytes]:
    return request.param, random_int8_model(request.param, tone_features)


def quantized(features: np.ndarray, tflite: bytes) -> np.ndarray:
    from tinykws.model.quantize import quantize_input, tflite_io_quantization

    q = tflite_io_quantization(tflite)
    return quantize_input(features, q["input_scale"], q["input_zero_point"])


def assert_layers_equal(tflite: bytes, windows: np.ndarray, paths=("portable", "dsp")) -> None:
    from tinykws.boardcode.native_engine import NativeNet, TflmLayers

    ref = TflmLayers(tflite)
    for path in paths:
        net = NativeNet(tflite, path)
        assert net.uses_dsp == (path == "dsp")
        for i, x in enumerate(windows):
            out, layers = net.run(x)
            ref_out, ref_layers = ref.run(x, list(layers))
            for li, (t, got) in enumerate(layers.items()):
                want = ref_layers[t].reshape(got.shape)
                diff = int(np.sum(got != want))
                assert diff == 0, (f"{path} path, window {i}: layer {li} ({net.layers[li]['op']}) differs from TFLM "
                                   f"in {diff} of {got.size} values")
            np.testing.assert_array_equal(out, ref_out)


def test_every_architecture_is_bit_exact_on_random_inputs(arch_model):
    _, tflite = arch_model
    rng = np.random.default_rng(1)
    assert_layers_equal(tflite, rng.integers(-128, 128, (12, SPEC.n_frames * SPEC.n_mfcc)).astype(np.int8))


def test_every_architecture_is_bit_exact_on_tone_features(arch_model, tone_features):
    _, tflite = arch_model
    assert_layers_equal(tflite, quantized(tone_features, tflite))


def test_model_facts(arch_model):
    from tinykws.export.native import native_model_info, plan_native, render_native_model

    arch, tflite = arch_model
    info = native_model_info(tflite)
    plan = plan_native(tflite)
    # The Keras count is the reference for MACs.
    from tinykws.model.architectures import build_model, count_macs

    assert info["macs"] == count_macs(build_model(arch, (SPEC.n_frames, SPEC.n_mfcc), 5))
    assert info["ram_bytes"] == info["arena_bytes"] + info["scratch_bytes"]
    crc = 0
    for a in plan.arrays:
        crc = zlib.crc32(a.le_bytes(), crc)
    header = render_native_model(tflite)
    assert f"#define KWS_NET_WEIGHTS_CRC32 0x{crc:08X}u" in header
    assert f"#define KWS_NET_RAM_BYTES {info['ram_bytes']}" in header


def test_weights_crc_recomputed_in_c_equals_header(arch_model):
    from tinykws.export.native import native_model_info
    from tinykws.boardcode.native_engine import NativeNet

    _, tflite = arch_model
    assert NativeNet(tflite).weights_crc32() == int(native_model_info(tflite)["weights_crc32"], 16)


def shipped_model() -> bytes:
    from tinykws.export.carray import parse_c_array
    from tinykws.paths import default_model_dir

    return parse_c_array((default_model_dir() / "kws_model.cc").read_text())


def test_shipped_model_bit_exact_and_small():
    from tinykws.export.native import native_model_info

    tflite = shipped_model()
    info = native_model_info(tflite)
    assert info["macs"] == 2_656_384
    assert info["ram_bytes"] <= 12 * 1024
    rng = np.random.default_rng(2)
    from tinykws.features import compute_mfcc

    windows = np.concatenate([rng.integers(-128, 128, (8, 490)).astype(np.int8).reshape(8, 490),
                              quantized(compute_mfcc(tone_clips(12, seed=5), SPEC), tflite).reshape(12, -1)])
    assert_layers_equal(tflite, windows)


def test_shipped_header_is_current():
    """firmware/model/kws_net_model.h is what the renderer makes of the shipped .tflite."""
    from tinykws.export.native import render_native_model
    from tinykws.paths import default_model_dir

    import json

    name = json.loads((default_model_dir() / "model.json").read_text())["name"]
    assert (default_model_dir() / "kws_net_model.h").read_text() == render_native_model(shipped_model(), name=name)


def test_shipped_model_bit_exact_on_real_speech(shared_speech):
    from tinykws.data.audio import fit_length, load_audio, to_int16
    from tinykws.features import compute_mfcc

    files = []
    for word in ("yes", "no", "up", "down", "left"):
        files += sorted((shared_speech / word).glob("*.wav"))[:4]
    pcm = np.stack([to_int16(fit_length(load_audio(f).y, SR)[0]) for f in files])
    tflite = shipped_model()
    assert_layers_equal(tflite, quantized(compute_mfcc(pcm, SPEC), tflite).reshape(len(files), -1))


def test_unsupported_op_is_a_clear_user_error(tone_features):
    import keras

    from tinykws.export.native import native_model_info
    from tinykws.model.quantize import convert_int8

    keras.utils.set_random_seed(0)
    L = keras.layers
    x_in = keras.Input(shape=(SPEC.n_frames, SPEC.n_mfcc))
    x = L.Reshape((SPEC.n_frames, SPEC.n_mfcc, 1))(x_in)
    x = L.Conv2D(4, (3, 3), activation="relu")(x)
    x = L.MaxPooling2D((2, 2))(x)
    x = L.Flatten()(x)
    model = keras.Model(x_in, L.Dense(3, activation="softmax")(x))
    tflite = convert_int8(model, tone_features)
    with pytest.raises(UserError, match="does not support op MAX_POOL_2D, and the firmware runs no other"):
        native_model_info(tflite)


def test_fused_activation_and_padding_variants(tone_features):
    """RELU6, VALID padding, stride 2 depthwise and a 1x1 conv that widens: still bit-exact."""
    import keras

    from tinykws.model.quantize import convert_int8

    keras.utils.set_random_seed(4)
    L = keras.layers
    x_in = keras.Input(shape=(SPEC.n_frames, SPEC.n_mfcc))
    x = L.Reshape((SPEC.n_frames, SPEC.n_mfcc, 1))(x_in)
    x = L.Conv2D(8, (3, 3), strides=(1, 1), padding="valid", activation="relu6")(x)
    x = L.DepthwiseConv2D((3, 3), strides=(2, 2), padding="same", activation="relu")(x)
    x = L.Conv2D(12, (1, 1), activation="relu")(x)
    x = L.Conv2D(8, (1, 1))(x)
    x = L.AveragePooling2D((2, 2))(x)
    x = L.Flatten()(x)
    model = keras.Model(x_in, L.Dense(4, activation="softmax")(x))
    tflite = convert_int8(model, tone_features)
    rng = np.random.default_rng(7)
    windows = np.concatenate([rng.integers(-128, 128, (6, 490)).astype(np.int8),
                              quantized(tone_features[:8], tflite).reshape(8, -1)])
    assert_layers_equal(tflite, windows)
