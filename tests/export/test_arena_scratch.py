"""The TFLM arena compiled into the QEMU comparator (firmware/test/qemu) covers CMSIS-NN's scratch buffers,
which the host's reference kernels never ask for."""

from pathlib import Path

import pytest

from tinykws.export import compiled_arena
from tinykws.export.carray import parse_c_array
from tinykws.boardcode.tflm import Layer, arena_with_margin, cmsis_nn_scratch, model_layers

REPO = Path(__file__).resolve().parents[2]

# Measured on QEMU (emulated Cortex-M4), the shipped model, TFLM set up as the firmware does it:
# arena_used_bytes() with the pinned CMSIS-NN kernels and with reference kernels.
ARENA_USED_CMSIS_NN = 24_164
ARENA_USED_REFERENCE = 22_964


@pytest.fixture(scope="module")
def shipped() -> bytes:
    return parse_c_array((REPO / "firmware" / "model" / "kws_model.cc").read_text())


def test_derived_scratch_covers_the_measured_difference(shipped):
    s = cmsis_nn_scratch(shipped)
    assert s.bytes >= ARENA_USED_CMSIS_NN - ARENA_USED_REFERENCE
    # Largest buffer: arm_depthwise_conv_s8_opt's in_c * 3 * 3 * sizeof(int16) for the 64-channel depthwise layers.
    assert s.largest_bytes == 64 * 3 * 3 * 2 == 1152
    assert s.largest_kernel.startswith("arm_depthwise_conv_s8_opt")
    # Requests: the first conv's im2col (2 * 1 * 10 * 4 * 2), four depthwise, the average pool (64 * 4); no 1x1 conv.
    assert [(fn, n) for _, fn, n in s.requests] == [("arm_convolve_s8", 160)] + [("arm_depthwise_conv_s8_opt", 1152)] * 4 \
        + [("arm_avgpool_s8", 256)]
    assert s.bytes == s.largest_bytes + s.bookkeeping_bytes and s.bytes % 16 == 0
    # Not wildly more than needed either: under twice the measured difference.
    assert s.bytes < 2 * (ARENA_USED_CMSIS_NN - ARENA_USED_REFERENCE)


def test_1x1_stride_1_conv_needs_no_scratch_strided_one_does():
    conv = Layer(0, "CONV_2D", "conv_1x1", (1, 8, 8, 16), (1, 8, 8, 32), kernel=(1, 1), stride=(1, 1))
    assert cmsis_nn_scratch([conv]).bytes == 0
    strided = Layer(0, "CONV_2D", "conv", (1, 8, 8, 16), (1, 4, 4, 32), kernel=(1, 1), stride=(2, 2))
    s = cmsis_nn_scratch([strided])
    assert s.largest_bytes == 2 * 16 * 1 * 1 * 2 == 64 and s.largest_kernel == "arm_convolve_s8 (layer 0)"
    # A depthwise layer with a depth multiplier (in_c != out_c) takes the generic kernel: no buffer.
    dw = Layer(0, "DEPTHWISE_CONV_2D", "depthwise", (1, 8, 8, 8), (1, 8, 8, 16), kernel=(3, 3))
    assert cmsis_nn_scratch([dw]).bytes == 0


def test_compiled_arena_adds_scratch_and_says_which_kernels(shipped):
    import json

    from tinykws.boardcode.tflm import find_min_arena

    host_min = find_min_arena(shipped)  # computed here, not a constant that goes stale with the model
    assert host_min == json.loads((REPO / "firmware" / "model" / "model.json").read_text())["arena_min_bytes"]
    s = cmsis_nn_scratch(shipped)
    arena, line = compiled_arena(shipped, host_min)
    assert arena == arena_with_margin(host_min, s.bytes) >= host_min + s.bytes + 1024
    assert arena % 16 == 0
    assert line.startswith(f"TFLM arena {arena:,} B: host minimum {host_min:,} B with reference kernels + CMSIS-NN "
                           f"scratch {s.bytes:,} B")
    assert "arm_depthwise_conv_s8_opt" in line and "+ margin" in line
    # A run that recorded a larger arena keeps it.
    assert compiled_arena(shipped, host_min, arena + 160)[0] == arena + 160


def test_arena_with_margin_without_scratch_is_unchanged():
    assert arena_with_margin(24_336) == (24_336 + 2_433 + 15) // 16 * 16
    assert arena_with_margin(1000) == 2032  # at least 1 KiB of margin


def test_layers_of_the_shipped_model_match_its_ops(shipped):
    assert [l.op for l in model_layers(shipped)][:3] == ["RESHAPE", "CONV_2D", "DEPTHWISE_CONV_2D"]
