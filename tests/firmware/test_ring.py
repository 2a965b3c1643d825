"""kws_ring.h: behaviour on the host, and ISR-safe ordering in every language the boards compile it as."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INC = HERE.parents[1] / "firmware" / "lib" / "kws_core" / "include"

PUSH = '#include "kws_ring.h"\nsize_t push(kws_ring_t *r, const int16_t *s, size_t n) { return kws_ring_write(r, s, n); }\n'


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_ring_buffer(tmp_path):
    exe = tmp_path / "ring"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-I", str(INC), str(HERE / "test_ring.c"), "-o", str(exe)], check=True)
    p = subprocess.run([str(exe)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.returncode


# The Nano port is C++ (gnu++14, GCC 7), the ESP32 port gnu++11, the core C99: the header must build as all.
LANGS = [("cc", ["-x", "c", "-std=c99", "-pedantic"]), ("g++", ["-x", "c++", "-std=gnu++11"]),
         ("g++", ["-x", "c++", "-std=gnu++14"]),
         ("arm-none-eabi-g++", ["-x", "c++", "-std=gnu++14", "-mcpu=cortex-m4", "-mthumb"]),
         ("arm-none-eabi-g++", ["-x", "c++", "-std=gnu++11", "-mcpu=cortex-m4", "-mthumb"]),
         ("arm-none-eabi-gcc", ["-x", "c", "-std=c99", "-mcpu=cortex-m4", "-mthumb"])]


@pytest.mark.parametrize("cc,flags", LANGS, ids=[f"{c}:{f[2]}" for c, f in LANGS])
def test_ring_header_compiles(tmp_path, cc, flags):
    if shutil.which(cc) is None:
        pytest.skip(f"no {cc}")
    src = tmp_path / "push.c"
    src.write_text(PUSH)
    subprocess.run([cc, *flags, "-Wall", "-Wextra", "-Werror", "-O2", "-I", str(INC), "-c", str(src), "-o",
                    str(tmp_path / "push.o")], check=True)


@pytest.mark.skipif(shutil.which("arm-none-eabi-g++") is None or shutil.which("arm-none-eabi-objdump") is None,
                    reason="no arm-none-eabi toolchain")
@pytest.mark.parametrize("lang", [["-x", "c++", "-std=gnu++14"], ["-x", "c", "-std=c99"]], ids=["gnu++14", "c99"])
def test_push_orders_data_before_head_on_cortex_m4(tmp_path, lang):
    """In the generated code (-O2: the copy loop comes before the head store in program order), a
    barrier separates the sample stores (strh) from the next word store, which publishes the head.
    Before the head store was a release store (a plain volatile), there was no barrier at all."""
    src = tmp_path / "push.c"
    src.write_text(PUSH)
    obj = tmp_path / "push.o"
    subprocess.run(["arm-none-eabi-g++", *lang, "-O2", "-mcpu=cortex-m4", "-mthumb", "-I", str(INC), "-c", str(src),
                    "-o", str(obj)], check=True)
    asm = subprocess.run(["arm-none-eabi-objdump", "-d", str(obj)], capture_output=True, text=True, check=True).stdout
    ops = [m.group(1) for m in re.finditer(r"^\s+[0-9a-f]+:\s+(?:[0-9a-f]{4}\s?)+\s+([a-z.]+)", asm, re.M)]
    last_strh = max(i for i, op in enumerate(ops) if op.startswith("strh"))
    after = ops[last_strh + 1 :]
    assert any(op in ("str", "str.w") for op in after), ops
    first_str = next(i for i, op in enumerate(after) if op in ("str", "str.w"))
    assert "dmb" in after[:first_str], ops
