"""The Cortex-M4 cycle model (tinykws.boardcode.m4cycles) against hand counts, and the board's constants.

A hand-written Thumb-2 sequence runs under QEMU between the two markers; its cycles are counted here by
hand from Arm's Cortex-M4 instruction timings (with the model's stated assumption of a 2-cycle refill
after a taken branch) and must equal what the model makes of QEMU's block log. Then the CPI constants in
``tinykws/export/boards.py`` must still be what a fresh trace of the shipped model gives.
"""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinykws.boardcode.cross import ARM_FLAGS, toolchain_missing
from tinykws.boardcode.m4cycles import REFILL, _base, _registers, block_of, parse_log, trace_elf

needs_arm = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))

QEMU_DIR = Path(__file__).resolve().parents[2] / "firmware" / "test" / "qemu"

#: The markers are bare `bx lr`; the kernel calls one before and one after a known sequence.
KERNEL = r"""
#include <stdint.h>
#include <stdio.h>
uint32_t kws_test_buf[4] = {0x00010002u, 0x00030004u, 5u, 6u};
void kws_test_kernel(void);
__asm__(
    ".syntax unified\n .thumb\n .text\n .align 2\n"
    ".global kws_cycle_begin\n .thumb_func\n kws_cycle_begin:\n bx lr\n"
    ".global kws_cycle_mark\n .thumb_func\n kws_cycle_mark:\n bx lr\n"
    ".global kws_test_kernel\n .thumb_func\n kws_test_kernel:\n"
    " push {r4-r7, lr}\n"
    " bl kws_cycle_begin\n"
    " ldr r1, =kws_test_buf\n"
    " movs r0, #100\n"
    "1: subs r0, r0, #1\n"
    " bne 1b\n"
    " ldr r2, [r1]\n"
    " ldr r3, [r1, #4]\n"
    " ldm r1, {r4-r7}\n"
    " smlad r2, r3, r4, r2\n"
    " ldrd r4, r5, [r1]\n"
    " str r2, [r1, #8]\n"
    " vmla.f32 s0, s1, s2\n"
    " vadd.f32 s3, s0, s1\n"
    " bl kws_cycle_mark\n"
    " pop {r4-r7, pc}\n"
    " .ltorg\n");
int main(void) {
    kws_test_kernel();
    printf("END %lu\n", (unsigned long)kws_test_buf[2]);
    return 0;
}
"""

# By hand, Arm's timings (P = the refill after a taken branch, the model's assumption):
#   kws_cycle_begin: bx lr                                  1 + P
#   ldr r1, =buf (literal)                                  2
#   movs r0, #100                                           1
#   100 x subs, 99 x bne taken, 1 x bne not taken           100 + 99 (1 + P) + 1
#   ldr 2, ldr after ldr 1 (pipelined), ldm 4 regs 1 + 4, smlad 1, ldrd 3,
#   str after ldrd 2, vmla 3, vadd 1                        18
#   bl kws_cycle_mark                                       1 + P
HAND_CYCLES = (1 + REFILL) + 2 + 1 + (100 + 99 * (1 + REFILL) + 1) + 18 + (1 + REFILL)
HAND_INSTRUCTIONS = 1 + 2 + 200 + 8 + 1


@needs_arm
def test_hand_counted_sequence_on_qemu(tmp_path):
    src = tmp_path / "kernel.c"
    src.write_text(KERNEL)
    elf = tmp_path / "kernel.elf"
    subprocess.run(["arm-none-eabi-gcc", *ARM_FLAGS, "-T", str(QEMU_DIR / "link.ld"), str(QEMU_DIR / "startup.c"),
                    str(src), "-o", str(elf)], check=True, capture_output=True, text=True)
    trace, out = trace_elf(elf, timeout_s=120)
    # smlad r2 = 2*4 + 1*3 + 0x00010002 (r2 was buf[0]); stored in buf[2]: the sequence really ran.
    assert f"END {0x00010002 + 2 * 4 + 1 * 3}" in out
    assert len(trace.calls) == 1 and len(trace.calls[0]) == 1
    seg = trace.calls[0][0]
    assert (seg.cycles, seg.instructions) == (HAND_CYCLES, HAND_INSTRUCTIONS)
    assert HAND_CYCLES == 425


def test_mnemonics_and_register_lists():
    assert _base("ldr.w") == ("ldr", False)
    assert _base("ldreq") == ("ldr", True)
    assert _base("bne.n") == ("b", True)
    assert _base("bls") == ("b", True)  # branch if lower or same, not bl + flags
    assert _base("bl") == ("bl", False)
    assert _base("pops") == ("pop", False)
    assert _base("itete") == ("it", False)
    assert _base("vldr") == ("vldr", False)
    assert _registers("{r4, r5, r6, lr}") == 4
    assert _registers("r1!, {r4-r7}") == 4
    assert _registers("{d8-d15}") == 16
    assert _registers("{s16}") == 1


def test_block_costs_and_refill():
    loads = [(0x100, 2, "ldr", "r2, [r1]"), (0x102, 2, "ldr", "r3, [r1, #4]"), (0x104, 4, "ldrb.w", "r4, [r1, #8]"),
             (0x108, 2, "adds", "r2, r2, r3"), (0x10a, 2, "str", "r2, [r1]"), (0x10c, 2, "bne.n", "0x100")]
    b = block_of(loads)
    assert (b.cycles, b.instructions, b.fallthrough, b.branches) == (2 + 1 + 1 + 1 + 2 + 1, 6, 0x10e, True)
    assert block_of([(0, 2, "pop", "{r4, r5, pc}")]).branches
    assert not block_of([(0, 2, "cmp", "pc, r1")]).branches
    # The refill is paid when the next block is not the fall-through, and only then.
    log = ["IN:", "0x00000100:  6802      ldr r2, [r1]", "0x00000102:  d1fd      bne.n #0x100",
           "IN:", "0x00000104:  4770      bx lr",
           "Trace 0: 0x0 [00000000/00000100/00000000/00000000]",
           "Trace 0: 0x0 [00000000/00000100/00000000/00000000]",
           "Trace 0: 0x0 [00000000/00000104/00000000/00000000]"]
    t = parse_log(log)
    assert (t.cycles, t.instructions) == ((3 + REFILL) + 3 + 1, 5)


@needs_arm
@pytest.mark.slow
def test_the_boards_cycle_constants_are_measured():
    """NANO_NN_CPI and NANO_MFCC_CPI are what the model gives on the shipped model and the C MFCC today."""
    from tests.export.test_native_engine import quantized, shipped_model, tone_clips
    from tinykws.boardcode.cross import board_flags
    from tinykws.boardcode.m4cycles import engine_cycles, mfcc_cycles
    from tinykws.boardcode.native_engine import TflmLayers
    from tinykws.export.boards import NANO_MFCC_CPI, NANO_NN_CPI
    from tinykws.export.native import render_native_model
    from tinykws.features import compute_mfcc
    from tinykws.spec import FeatureSpec

    tflite = shipped_model()
    window = quantized(compute_mfcc(tone_clips(1, seed=3), FeatureSpec()), tflite).reshape(1, -1)
    r = engine_cycles(render_native_model(tflite), window, flags=board_flags("c"))
    np.testing.assert_array_equal(r["scores"], TflmLayers(tflite).run(window[0], [])[0].astype(np.int8))
    cpi = r["cycles"] / r["instructions"]
    print(f"engine: {r['cycles']:,} cycles, {r['instructions']:,} instructions, CPI {cpi:.3f}")
    assert abs(cpi - NANO_NN_CPI) < 0.02
    assert sum(r["layer_cycles"]) <= r["cycles"]
    m = mfcc_cycles(tone_clips(1, seed=4).reshape(-1), spec=FeatureSpec(), flags=board_flags("c"))
    print(f"MFCC: {m['cycles_per_frame']:,.0f} cycles per frame, CPI {m['cpi']:.3f}")
    assert abs(m["cpi"] - NANO_MFCC_CPI) < 0.02
