"""The native engine's portable path on an emulated Xtensa core: the ESP32's code path, measured.

The ESP32's Xtensa LX6 has no Cortex-M4 DSP instructions, so the ESP32 build compiles the engine's
portable path (``-DKWS_NN_PORTABLE`` is implied: ``__ARM_FEATURE_DSP`` is undefined). No emulator of
the LX6 is at hand on Debian; this module uses the nearest stand-in that is: Debian's
``gcc-xtensa-lx106`` (``xtensa-lx106-elf-gcc``, the ESP8266's core, call0 ABI, MUL32 and MUL16 but
no MUL32_HIGH, no MAC16, no zero-overhead loops) and ``qemu-system-xtensa -M sim -cpu lx106``.
Every figure it gives is an lx106 instruction count standing in for the LX6's, and says so.

The image is freestanding (Debian's lx106 compiler has no C library): ``firmware/test/xtensa/``
holds its start-up, linker script, a small run-time (printf and exit through the simulator's
SIMCALL semihosting, the integer helpers Debian's libgcc lacks) and stand-in ``stdio.h``/``string.h``;
its main is the Cortex-M4 image's ``firmware/test/qemu/engine_bench.c``, whose ticks here are the
core's CCOUNT (``xtensa_ticks.h``). QEMU derives CCOUNT from virtual time, and under ``-icount
shift=N`` virtual time advances 2^N ns per instruction, so CCOUNT counts instructions; the image
calibrates it with a loop of 400,000 instructions as the Cortex-M4 one does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from tinykws.paths import qemu_source_dir, source_project_dir

CC = "xtensa-lx106-elf-gcc"
QEMU = "qemu-system-xtensa"

#: The C code-generation flags of the ESP32 build that this compiler takes: Arduino-ESP32 2.0.x
#: (platformio.ini's espressif32 6.13.0) compiles C sources with -Os, function and data sections,
#: -mlongcalls (calls through a register: the code may sit anywhere in the address space),
#: -fstrict-volatile-bitfields, -fno-jump-tables and -fno-tree-switch-conversion. Written from the
#: framework's build script, not from a verbose build of this project (no ESP32 toolchain here).
ESP32_FLAGS = ["-std=gnu99", "-Os", "-ffunction-sections", "-fdata-sections", "-mlongcalls",
               "-fstrict-volatile-bitfields", "-fno-jump-tables", "-fno-tree-switch-conversion"]

#: The stand-in, in words, for every figure measured here.
STANDIN = "Xtensa lx106 (ESP8266 core) on qemu-system-xtensa -M sim, standing in for the ESP32's LX6"

#: -icount shift: 2^7 ns of virtual time per instruction. The sim machine's lx106 runs CCOUNT at
#: 40 MHz, so that is 5.12 ticks per instruction (the image measures it): whole instructions, and no
#: wrap of the 32-bit counter within an inference of up to 800 M instructions.
ICOUNT_SHIFT = 7


def xtensa_source_dir() -> Path:
    """``firmware/test/xtensa``: start-up, linker script and run-time of the Xtensa image."""
    return source_project_dir() / "firmware" / "test" / "xtensa"


def toolchain_missing() -> str | None:
    """Why the Xtensa stand-in cannot run here, or None."""
    for tool in (CC, QEMU):
        if not shutil.which(tool):
            return f"{tool} not found (Debian: apt-get install gcc-xtensa-lx106 qemu-system-misc)"
    return None


def build_engine_image(header: str, windows: np.ndarray, out_dir: Path, *, flags: list[str] | None = None,
                       stream_windows: np.ndarray | None = None, defines: tuple[str, ...] = ()) -> Path:
    """Cross-compile the engine image for the lx106 stand-in (the portable path); returns the ELF.

    As :func:`tinykws.boardcode.cross.build_engine_image`: kws_nn + ``header`` as kws_net_model.h +
    ``windows`` (and ``stream_windows``), ``firmware/test/qemu/engine_bench.c`` as main. ``flags``:
    the compiler flags (default :data:`ESP32_FLAGS`).
    """
    from tinykws.boardcode.cross import _windows_header
    from tinykws.boardcode.native_engine import nn_source_dir

    nn, xt = nn_source_dir(), xtensa_source_dir()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "kws_net_model.h").write_text(header)
    (out_dir / "engine_windows.h").write_text(_windows_header(windows, stream_windows))
    elf = out_dir / "engine_xtensa.elf"
    cmd = [CC, *(ESP32_FLAGS if flags is None else flags), "-ffreestanding", "-nostdlib", "-Wall", "-Wextra", "-Werror",
           "-DKWS_NN_PORTABLE", *[f"-D{d}" for d in defines], "-Wl,--gc-sections",
           "-I", str(xt / "include"), "-I", str(nn / "include"), "-I", str(nn / "src"), "-I", str(out_dir),
           "-T", str(xt / "link.ld"), str(xt / "startup.S"), str(xt / "xt_runtime.c"),
           str(qemu_source_dir() / "engine_bench.c"), *[str(p) for p in sorted((nn / "src").glob("*.c"))],
           "-lgcc", "-o", str(elf)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"xtensa build failed:\n{' '.join(cmd)}\n{p.stderr}")
    return elf


def run_qemu_xtensa(elf: Path, *, icount: bool = True, timeout_s: float = 600) -> str:
    """The image's output on ``qemu-system-xtensa -M sim -cpu lx106`` with semihosting."""
    cmd = [QEMU, "-M", "sim", "-cpu", "lx106", "-nographic", "-monitor", "none", "-semihosting",
           *(["-icount", f"shift={ICOUNT_SHIFT}"] if icount else []), "-kernel", str(elf)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if p.returncode != 0:
        raise RuntimeError(f"qemu-system-xtensa exited with {p.returncode}: {p.stdout[-300:]} {p.stderr[-500:]}")
    return p.stdout


def run_engine_image(elf: Path, *, timeout_s: float = 600) -> dict:
    """Run an Xtensa engine image; the same fields as :func:`tinykws.boardcode.cross.run_engine_image`
    (``dsp`` is False: the portable path), instructions being lx106 instructions."""
    from tinykws.boardcode.cross import parse_engine_output

    return parse_engine_output(run_qemu_xtensa(elf, timeout_s=timeout_s))
