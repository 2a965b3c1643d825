"""The board-independent firmware sources agree with the core's API (host compilers, gnu++14 like the Nano's GCC 7).

app/main.cpp is checked with a stand-in for Arduino.h, and run on the host against a fake port written in C
(the seam kws_port.h is at link time: a missing extern "C" or a changed signature fails to link). The real
ports and the TFLM glue need the real Arduino cores and TFLM library (scripts/check_board_sources.sh, with
local copies of them). platformio.ini is checked in test_platformio_config.py.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FW = REPO / "firmware"
CORE_INC = FW / "lib/kws_core/include"
MODEL = FW / "model"  # the shipped default model folder (what the build stages when nothing else is chosen)

needs_cxx = pytest.mark.skipif(shutil.which("g++") is None or shutil.which("cc") is None, reason="no C/C++ compiler")

# ArduinoCore-API (the mbed core) declares setup() and loop() inside extern "C" { }: so does this stand-in.
ARDUINO_STANDIN = """#pragma once
#include <stdint.h>
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
void setup(void);
void loop(void);
#ifdef __cplusplus
}
#endif
"""


def _run(cmd, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert p.returncode == 0, (" ".join(str(c) for c in cmd), p.stdout, p.stderr)
    return p


@needs_cxx
def test_app_sources_wire_the_core_api(tmp_path):
    (tmp_path / "Arduino.h").write_text(ARDUINO_STANDIN)
    for src in ("app/main.cpp", "app/kws_model_data.cpp"):
        _run(["g++", "-std=gnu++14", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I", tmp_path, "-I", CORE_INC,
              "-I", MODEL, FW / src])


@needs_cxx
def test_core_compiles_as_cpp_too():
    # PlatformIO may build the library with a C++ toolchain's flags; keep the core valid C++ as well.
    sources = sorted((FW / "lib/kws_core/src").glob("*.c"))
    assert any(s.name == "kws_cmdline.c" for s in sources)
    for src in sources:
        _run(["g++", "-x", "c++", "-std=gnu++14", "-fsyntax-only", "-Wall", "-I", CORE_INC, "-I", MODEL, src])


@needs_cxx
@pytest.mark.parametrize("lang", [["cc", "-x", "c", "-std=c99", "-pedantic"], ["g++", "-x", "c++", "-std=gnu++11"]],
                         ids=["c99", "gnu++11"])
def test_port_header_is_plain_c_and_cpp(tmp_path, lang):
    src = tmp_path / "t.c"
    src.write_text('#include "kws_port.h"\n#include "kws_cmdline.h"\n'
                   "const char *name(void) { return KWS_BOARD_NAME KWS_FW_VERSION; }\n"
                   "size_t (*reader)(char *, size_t) = kws_port_read_serial;\n")
    _run([*lang, "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I", CORE_INC, src])


@needs_cxx
@pytest.mark.parametrize("std", ["gnu++11", "gnu++14"])
def test_esp32_port_against_the_standin_headers(std):
    # scripts/esp32_standin declares the Arduino-ESP32 2.0.x / ESP-IDF 4.4 API the port uses (see its README).
    # That core compiles C++ as gnu++11; the Nano's as gnu++14.
    _run(["g++", f"-std={std}", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I", REPO / "scripts/esp32_standin",
          "-I", CORE_INC, "-DKWS_I2S_SCK=26", "-DKWS_I2S_WS=25", "-DKWS_I2S_SD=33",
          FW / "ports/esp32dev/port_esp32dev.cpp"])


def test_ports_implement_every_port_function_and_nothing_else():
    header = (CORE_INC / "kws_port.h").read_text()
    declared = set(re.findall(r"^[a-z_ 0-9]+?\**(kws_port_[a-z_]+)\(", header, re.M))
    assert len(declared) == 11, declared
    for port in ("nano33ble/port_nano33ble.cpp", "esp32dev/port_esp32dev.cpp"):
        text = (FW / "ports" / port).read_text()
        defined = set(re.findall(r"^[a-z_ 0-9]+?\**(kws_port_[a-z_]+)\([^;]*\{", text, re.M))
        assert defined == declared, (port, declared ^ defined)
        # The command line assembly and the LED timing live in the core / app now, once.
        assert "read_command" not in text and "led_off" not in text, port


# A port written in C: 20 ms of silence per loop, a clock that advances with it, host input delivered a few
# bytes at a time, the LED and every line printed. With the fake engine below, "yes" wins every inference.
FAKE_PORT_C = r"""
#include <stdio.h>
#include <string.h>
#include "Arduino.h"
#include "kws_port.h"

static uint32_t now_us;
static int audio_given, led;
static const char host_input[] = "inf" "o\r" "\nthr 0.5\n" "mode dance\n";
static size_t host_pos;

const char *kws_port_begin(void) { return NULL; }
const char *kws_port_mic_name(void) { return "fake"; }
size_t kws_port_read_audio(int16_t *buf, size_t max) {
    if (audio_given || max < 320) return 0;
    memset(buf, 0, 320 * sizeof(int16_t));
    audio_given = 1;
    now_us += 20000;
    return 320;
}
uint32_t kws_port_micros(void) { return now_us; }
void kws_port_write_line(const char *line, size_t len) { fwrite(line, 1, len, stdout); }
size_t kws_port_read_serial(char *buf, size_t max) {
    size_t n = sizeof(host_input) - 1 - host_pos;
    if (n > 3) n = 3;
    if (n > max) n = max;
    memcpy(buf, host_input + host_pos, n);
    host_pos += n;
    return n;
}
uint32_t kws_port_take_dropped(void) { return 0; }
uint32_t kws_port_take_overflows(void) { return 0; }
uint32_t kws_port_take_tx_dropped(void) { return 0; }
void kws_port_set_led(int on) {
    if (on != led) printf("LED %d %u\n", on, (unsigned)now_us);
    led = on;
}
void kws_port_poll(void) { audio_given = 0; }

int main(void) {
    setup();
    for (int i = 0; i < 150; i++) loop(); /* 3 s of audio */
    return 0;
}
"""

FAKE_ENGINE_CPP = r"""
#include <string.h>
#include "kws_model.h"
#include "kws_engine.h"
bool kws_engine_begin(const char **, const char **) { return true; }
size_t kws_engine_ram_used(void) { return 1234; }
size_t kws_engine_ram_reserved(void) { return 4096; }
const char *kws_engine_name(void) { return "fake"; }
uint32_t kws_engine_weights_crc32(void) { return 0x1234abcdu; }
int kws_engine_invoke(const int8_t *, int8_t *out) {
    memset(out, -128, KWS_MODEL_NUM_LABELS);
    out[0] = 127;
    return 0;
}
"""


@needs_cxx
def test_app_runs_on_a_fake_c_port(tmp_path):
    (tmp_path / "Arduino.h").write_text(ARDUINO_STANDIN)
    (tmp_path / "port.c").write_text(FAKE_PORT_C)
    (tmp_path / "engine.cpp").write_text(FAKE_ENGINE_CPP)
    inc = ["-I", tmp_path, "-I", CORE_INC, "-I", MODEL]
    objs = []
    for src in [*sorted((FW / "lib/kws_core/src").glob("*.c")), tmp_path / "port.c", FW / "app/kws_app_config.c"]:
        obj = tmp_path / (src.stem + ".o")
        _run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", *inc, "-I", FW / "app", "-c", src, "-o", obj])
        objs.append(obj)
    for src in [FW / "app/main.cpp", FW / "app/kws_model_data.cpp", tmp_path / "engine.cpp"]:
        obj = tmp_path / (src.stem + ".o")
        _run(["g++", "-std=gnu++14", "-Wall", "-Wextra", "-Werror", *inc, "-I", FW / "app", "-c", src, "-o", obj])
        objs.append(obj)
    exe = tmp_path / "app"
    _run(["g++", *objs, "-o", exe, "-lm"])
    lines = _run([exe], timeout=60).stdout.splitlines()

    assert lines[0].startswith("BOOT ") and " status=ok" in lines[0] and " mic=fake" in lines[0], lines[0]
    # main.cpp reports what the engine says: its RAM, its name and the weights CRC it checked.
    assert " arena_used=1234 arena_size=4096 " in lines[0] and lines[0].endswith(" engine=fake weights_crc=1234abcd"), lines[0]
    # Commands assembled from 3-byte reads, CR dropped, one answer each, in order.
    answers = [ln for ln in lines if ln.split(" ")[0] in ("INFO", "ACK", "ERR")]
    assert answers[0].startswith("INFO ") and " labels=yes,no,up,down" in answers[0], answers
    assert answers[1].startswith("ACK ") and "thr" in answers[1], answers
    assert answers[2].startswith("ERR ") and "bad_arg" in answers[2], answers
    # Every detection lights the LED; it goes off 500 ms (of the port's clock) later.
    dets = [ln for ln in lines if ln.startswith("DET ")]
    leds = [ln.split() for ln in lines if ln.startswith("LED ")]
    assert dets and " label=yes" in dets[0], lines
    assert leds[0][1] == "1" and leds[1][1] == "0", leds
    on_us, off_us = int(leds[0][2]), int(leds[1][2])
    assert 500000 <= off_us - on_us < 520000, leds
    assert len([x for x in leds if x[1] == "1"]) == len(dets), (leds, dets)
