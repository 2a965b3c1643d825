"""The committed board flags (firmware/board_flags/nano33ble.txt) are what the Nano build really uses, and
with them the MFCC runs on the FPU.

PlatformIO's builder for the mbed core appends -mfloat-abi=soft after the variant's softfp; unless
platformio.ini removes it, every float operation of the MFCC is a library call (__aeabi_fmul, ...),
about 14 times the instructions. These tests compile kws_mfcc.c with the committed flags and fail on
any __aeabi_f* call, and check that platformio.ini and the flags file say the same thing.
"""

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from tinykws.boardcode.cross import ARM_FLAGS, board_flags

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "firmware" / "lib" / "kws_core"
MODEL = REPO / "firmware" / "model"

needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc not found (Debian: apt-get install gcc-arm-none-eabi)")


def _platformio_env(name: str) -> dict:
    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",), comment_prefixes=(";", "#"))
    cp.read(REPO / "platformio.ini")
    return dict(cp[name])


def _flag_lines(value: str) -> list[str]:
    return [f for line in value.splitlines() for f in line.split() if f and not f.startswith("${")]


def _float_calls(flags: list[str], tmp_path: Path) -> list[str]:
    obj = tmp_path / "kws_mfcc.o"
    cmd = ["arm-none-eabi-gcc", *flags, "-I", str(CORE / "include"), "-I", str(MODEL), "-c",
           str(CORE / "src" / "kws_mfcc.c"), "-o", str(obj)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    nm = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], check=True, capture_output=True, text=True).stdout
    return sorted({line.split()[-1] for line in nm.splitlines() if line.split() and line.split()[-1].startswith("__aeabi_f")})


@needs_gcc
def test_mfcc_compiled_with_the_board_flags_uses_the_fpu(tmp_path):
    calls = _float_calls(board_flags("c"), tmp_path)
    assert calls == [], f"kws_mfcc.c calls the soft-float library with the board flags: {calls}"


@needs_gcc
def test_the_soft_float_check_catches_the_builder_default(tmp_path):
    # What PlatformIO builds without build_unflags: the builder's -mfloat-abi=soft after softfp.
    calls = _float_calls([*board_flags("c"), "-mfloat-abi=soft"], tmp_path)
    assert "__aeabi_fmul" in calls and "__aeabi_fadd" in calls


def test_platformio_removes_the_soft_float_flag():
    env = _platformio_env("env:nano33ble")
    assert "-mfloat-abi=soft" in _flag_lines(env.get("build_unflags", ""))
    for kind in ("c", "cxx", "ld"):
        flags = board_flags(kind)
        assert "-mfloat-abi=softfp" in flags and "-mfpu=fpv4-sp-d16" in flags and "-mfloat-abi=soft" not in flags


def test_flags_file_carries_platformio_ini_code_generation_flags():
    # Every -f/-m/-O flag platformio.ini adds (common [env] and the Nano's own) is in the C and C++ lines.
    added = _flag_lines(_platformio_env("env").get("build_flags", "")) + \
        _flag_lines(_platformio_env("env:nano33ble").get("build_flags", ""))
    codegen = [f for f in added if f.startswith(("-f", "-m", "-O"))]
    assert "-ffp-contract=off" in codegen
    for kind in ("c", "cxx"):
        missing = [f for f in codegen if f not in board_flags(kind)]
        assert not missing, f"platformio.ini adds {missing}, missing from the {kind} line of the flags file"


def test_qemu_images_use_the_board_flags():
    for f in board_flags("c"):
        assert f in ARM_FLAGS
    assert "--specs=rdimon.specs" in ARM_FLAGS and "--specs=nosys.specs" not in ARM_FLAGS
