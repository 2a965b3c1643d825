"""The engine's portable path on the ESP32's stand-in core (Xtensa lx106 on qemu-system-xtensa) equals TFLM.

tinykws.boardcode.xtensa builds firmware/test/qemu/engine_bench.c freestanding with Debian's
xtensa-lx106-elf-gcc and the ESP32 build's C flags; the image prints every window's scores and a
CRC-32 of every layer's output, compared with the tflite-micro interpreter's, and its instruction
counts (CCOUNT under -icount). The lx106 is the ESP8266's core, standing in for the ESP32's LX6.
"""

import numpy as np
import pytest

from tinykws.boardcode.xtensa import toolchain_missing

pytestmark = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))

#: A functional bound on the shipped DS-CNN-S's instructions per inference on the stand-in
#: (measured 11.5 M; 12.2 M before the first conv's 2 x 4 block, the depthwise's two outputs a
#: step and the cheaper exact requantization; 28.6 M before the portable kernels were written for cores without SMLAD).
MAX_INSTRUCTIONS = 13_000_000


def test_shipped_model_on_the_xtensa_standin(tmp_path):
    from tests.export.test_native_engine import quantized, shipped_model, tone_clips
    from tests.boardcode.test_native_engine_qemu import tflm_reference
    from tinykws.boardcode.xtensa import build_engine_image, run_engine_image
    from tinykws.export.native import native_model_info, render_native_model
    from tinykws.features import compute_mfcc
    from tinykws.spec import FeatureSpec

    tflite = shipped_model()
    rng = np.random.default_rng(21)
    windows = np.concatenate([rng.integers(-128, 128, (3, 490)).astype(np.int8),
                              quantized(compute_mfcc(tone_clips(3, seed=22), FeatureSpec()), tflite).reshape(3, -1)])
    info = native_model_info(tflite)
    want_scores, want_crcs = tflm_reference(tflite, windows)
    r = run_engine_image(build_engine_image(render_native_model(tflite), windows, tmp_path))
    assert r["dsp"] is False
    assert r["weights_crc32"] == int(info["weights_crc32"], 16)
    for i in range(len(windows)):
        bad = [l for l, (a, b) in enumerate(zip(r["layer_crc32"][i], want_crcs[i])) if a != b]
        assert not bad, f"window {i}: layers {bad} differ from TFLM on the Xtensa stand-in"
    np.testing.assert_array_equal(r["scores"], np.stack(want_scores))
    total = float(np.mean(r["instructions"]))
    print(f"Xtensa lx106 stand-in: {total:,.0f} instructions per inference")
    assert 0.9 < r["instructions_per_tick"] * 5.12 < 1.1  # the calibration loop: 5.12 ticks per instruction
    assert total < MAX_INSTRUCTIONS
    assert np.allclose(r["layer_instructions"].sum(axis=1), r["instructions"])
