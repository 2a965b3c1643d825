"""The board-independent firmware sources agree with the core's API (host compilers, gnu++14 like the Nano's GCC 7).

app/main.cpp is checked with a stand-in for Arduino.h, and run on the host against a fake port written in C
(the seam kws_port.h is at link time: a missing extern "C" or a changed signature fails to link), healthy and
failing: a microphone or engine that does not start, a model for another spec, a failing invoke, lost audio. The real
ports and the TFLM glue need the real Arduino cores and TFLM library (scripts/check_board_sources.sh, with
local copies of them). platformio.ini is checked in test_platformio_config.py.
"""

import os
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
    assert len(declared) == 15, declared
    for port in ("nano33ble/port_nano33ble.cpp", "esp32dev/port_esp32dev.cpp"):
        text = (FW / "ports" / port).read_text()
        defined = set(re.findall(r"^[a-z_ 0-9]+?\**(kws_port_[a-z_]+)\([^;]*\{", text, re.M))
        assert defined == declared, (port, declared ^ defined)
        # The command line assembly and the LED timing live in the core / app now, once.
        assert "read_command" not in text and "led_off" not in text, port


# A port written in C: 20 ms of silence per loop, a clock that advances with the loop, host input delivered a
# few bytes at a time, the LED and every line printed. With the fake engine below, "yes" wins every inference.
# Faults come from the environment, so one build runs every case:
#   FAKE_LOOPS       loop() calls (default 150: 3 s)
#   FAKE_PORT_ERROR  kws_port_begin's error code ("mic": the microphone did not start; it then gives no audio)
#   FAKE_DROP_AT     the loop whose kws_port_take_dropped reports FAKE_DROPPED samples lost (once)
#   FAKE_OVERFLOWS   driver overflows, one per loop from loop 10 on
#   FAKE_TX_DROPPED  lines the port dropped, reported at loop 20
#   FAKE_ENGINE_ERROR  kws_engine_begin fails with this code
#   FAKE_INVOKE_OK   invokes that succeed; every later one fails
FAKE_PORT_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "Arduino.h"
#include "kws_port.h"

static uint32_t now_us;
static int audio_given, led, loops, mic_dead;
static const char host_input[] = "inf" "o\r" "\nthr 0.5\n" "mode dance\n";
static size_t host_pos;

static int env_int(const char *name) {
    const char *v = getenv(name);
    return v ? atoi(v) : 0;
}

const char *kws_port_begin(void) {
    const char *err = getenv("FAKE_PORT_ERROR");
    mic_dead = err != NULL;
    return err;
}
const char *kws_port_mic_name(void) { return "fake"; }
size_t kws_port_read_audio(int16_t *buf, size_t max) {
    if (mic_dead || audio_given || max < 320) return 0;
    memset(buf, 0, 320 * sizeof(int16_t));
    audio_given = 1;
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
uint32_t kws_port_take_dropped(void) {
    return loops == env_int("FAKE_DROP_AT") ? (uint32_t)env_int("FAKE_DROPPED") : 0u;
}
uint32_t kws_port_take_overflows(void) { return loops >= 10 && loops < 10 + env_int("FAKE_OVERFLOWS"); }
uint32_t kws_port_take_tx_dropped(void) { return loops == 20 ? (uint32_t)env_int("FAKE_TX_DROPPED") : 0u; }
void kws_port_set_led(int on) {
    if (on != led) printf("LED %d %u\n", on, (unsigned)now_us);
    led = on;
}
void kws_port_poll(void) {
    audio_given = 0;
    now_us += 20000;
}
static int feeds, idles, wdt_ms;
void kws_port_idle(void) { idles++; }
void kws_port_watchdog_start(uint32_t timeout_ms) {
    wdt_ms = (int)timeout_ms;
    printf("WDT start %d loops=%d\n", wdt_ms, loops);
}
void kws_port_watchdog_feed(void) { feeds++; }
const char *kws_port_reset_reason(void) { return getenv("FAKE_RESET") ? getenv("FAKE_RESET") : "power"; }

int main(void) {
    int n = getenv("FAKE_LOOPS") ? env_int("FAKE_LOOPS") : 150;
    setup();
    for (loops = 1; loops <= n; loops++) {
        int before = feeds;
        loop();
        if (feeds != before + 1) printf("WDT fed %d times in loop %d\n", feeds - before, loops);
    }
    printf("WDT feeds=%d loops=%d idles=%d\n", feeds, n, idles);
    return 0;
}
"""

FAKE_ENGINE_CPP = r"""
#include <stdlib.h>
#include <string.h>
#include "kws_model.h"
#include "kws_engine.h"
static int invokes;
bool kws_engine_begin(const char **error, const char **detail) {
    *error = getenv("FAKE_ENGINE_ERROR");
    *detail = "fake engine failed";
    return *error == nullptr;
}
size_t kws_engine_ram_used(void) { return 1234; }
size_t kws_engine_ram_reserved(void) { return 4096; }
const char *kws_engine_name(void) { return "fake"; }
uint32_t kws_engine_weights_crc32(void) { return 0x1234abcdu; }
int kws_engine_invoke(const int8_t *, int8_t *out) {
    const char *ok = getenv("FAKE_INVOKE_OK");
    if (ok && invokes >= atoi(ok)) return -1;
    invokes++;
    memset(out, -128, KWS_MODEL_NUM_LABELS);
    out[0] = 127;
    return 0;
}
"""


@pytest.fixture(scope="module")
def fake_board(tmp_path_factory):
    """Build main.cpp with the core, the fake port and the fake engine; returns run(**env) -> the lines printed.

    run(other_spec=True) runs a build whose model was exported for another feature spec."""
    if shutil.which("g++") is None or shutil.which("cc") is None:
        pytest.skip("no C/C++ compiler")
    tmp = tmp_path_factory.mktemp("fake_board")
    (tmp / "Arduino.h").write_text(ARDUINO_STANDIN)
    (tmp / "port.c").write_text(FAKE_PORT_C)
    (tmp / "engine.cpp").write_text(FAKE_ENGINE_CPP)
    other = tmp / "other_model"
    shutil.copytree(MODEL, other)
    header = other / "kws_model.h"
    text, n = re.subn(r'#define KWS_MODEL_SPEC_HASH "[0-9a-f]{64}"', '#define KWS_MODEL_SPEC_HASH "' + "0" * 64 + '"',
                      header.read_text())
    assert n == 1
    header.write_text(text)

    def compile_(src, obj, model):
        inc = ["-I", tmp, "-I", CORE_INC, "-I", model, "-I", FW / "app"]
        if src.suffix == ".c":
            _run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", *inc, "-c", src, "-o", obj])
        else:
            _run(["g++", "-std=gnu++14", "-Wall", "-Wextra", "-Werror", *inc, "-c", src, "-o", obj])
        return obj

    sources = [*sorted((FW / "lib/kws_core/src").glob("*.c")), tmp / "port.c", FW / "app/main.cpp",
               FW / "app/kws_model_data.cpp", tmp / "engine.cpp"]
    objs = [compile_(src, tmp / (src.stem + ".o"), MODEL) for src in sources]
    exes = {}
    for name, model in (("app", MODEL), ("app_other_spec", other)):
        config = compile_(FW / "app/kws_app_config.c", tmp / f"config_{name}.o", model)
        exes[name] = tmp / name
        _run(["g++", *objs, config, "-o", exes[name], "-lm"])

    def run(other_spec: bool = False, **env) -> list[str]:
        fake_env = {k: str(v) for k, v in env.items()}
        exe = exes["app_other_spec" if other_spec else "app"]
        return _run([exe], timeout=60, env={**os.environ, **fake_env}).stdout.splitlines()

    return run


def test_app_runs_on_a_fake_c_port(fake_board):
    lines = fake_board()

    assert lines[0].startswith("BOOT ") and " status=ok" in lines[0] and " mic=fake" in lines[0], lines[0]
    # main.cpp reports what the engine says: its RAM, its name and the weights CRC it checked.
    assert " arena_used=1234 arena_size=4096 " in lines[0] and lines[0].endswith(" engine=fake weights_crc=1234abcd reset=power"), lines[0]
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


def test_the_watchdog_starts_after_setup_and_is_fed_once_per_whole_loop(fake_board):
    lines = fake_board()
    wdt = [ln for ln in lines if ln.startswith("WDT ")]
    assert wdt[0] == "WDT start 8000 loops=0", wdt  # in setup, after BOOT and the start-up checks
    assert wdt[-1].startswith("WDT feeds=150 loops=150 "), wdt
    assert not [ln for ln in wdt if " fed " in ln], wdt
    # Every loop here finds a hop of audio, so none sleeps (the ESP32 port's test counts the sleeps).
    assert wdt[-1].endswith(" idles=0"), wdt


def test_boot_reports_the_reset_reason(fake_board):
    from tinykws.board.protocol import parse_line

    lines = fake_board(FAKE_RESET="wdt")
    boot = parse_line(lines[0])
    assert boot.reset == "wdt" and lines[0].endswith(" reset=wdt"), lines[0]
    # A faulty start still says why it reset.
    assert " reset=wdt" in fake_board(FAKE_RESET="wdt", FAKE_PORT_ERROR="mic")[0]


def _records(lines: list[str]) -> list:
    from tinykws.board.protocol import parse_line

    recs = [parse_line(ln) for ln in lines if not ln.startswith(("LED ", "WDT "))]
    assert None not in recs, lines
    return recs


def test_fake_port_drops_reach_the_stat_line(fake_board):
    """main.cpp forwards the port's own accounting: dropped samples, driver overflows, lines dropped."""
    from tinykws.board.protocol import Error, Inference, Stats

    recs = _records(fake_board(FAKE_LOOPS=300, FAKE_DROP_AT=100, FAKE_DROPPED=8000, FAKE_OVERFLOWS=5,
                               FAKE_TX_DROPPED=3))
    assert recs[0].status == "ok"
    stats = [r for r in recs if isinstance(r, Stats)]
    # 300 loops of 20 ms plus the 500 ms lost: the audio clock counts dropped samples too.
    assert [(s.t_ms, s.dropped, s.overflows, s.tx_dropped, s.mode) for s in stats] == [(5000, 8000, 5, 3, "infer")]
    # The 1st, 2nd and 4th overflow say so; the 3rd and 5th do not (no flood).
    assert [r for r in recs if isinstance(r, Error) and r.code == "mic_overflow"] == [
        Error("mic_overflow", "microphone buffer overflowed: audio lost")] * 3
    assert stats[0].inferences == len([r for r in recs[: recs.index(stats[0])] if isinstance(r, Inference)])
    # The gap (audio 1980 -> 2480 ms) restarts the features: the window refills (992 ms of audio) first.
    t_ms = [r.t_ms for r in recs if isinstance(r, Inference)]
    assert t_ms[9:11] == [1900, 3480], t_ms


@pytest.mark.parametrize("fault, env, code, msg", [
    ("mic", {"FAKE_PORT_ERROR": "mic"}, "mic", "microphone did not start"),
    ("engine", {"FAKE_ENGINE_ERROR": "arena"}, "arena", "fake engine failed"),
    ("spec", {"other_spec": True}, "bad_arg", "model exported for another feature spec: re-export"),
])
def test_start_up_faults_are_reported_and_nothing_is_inferred(fake_board, fault, env, code, msg):
    from tinykws.board.protocol import Ack, Boot, Detection, Error, Inference, Stats

    recs = _records(fake_board(FAKE_LOOPS=300, **env))
    boot = recs[0]
    assert isinstance(boot, Boot) and boot.tag == "BOOT" and boot.status == code, boot
    # The protocol reports 0/0 RAM when the engine did not start.
    assert (boot.arena_used, boot.arena_size) == ((1234, 0) if fault == "engine" else (1234, 4096))
    assert recs[1] == Error(code, msg)
    assert not [r for r in recs if isinstance(r, (Inference, Detection))], recs
    # The board keeps answering, and reports the fault in INFO too.
    info = [r for r in recs if isinstance(r, Boot) and r.tag == "INFO"]
    assert len(info) == 1 and info[0].status == code
    assert Ack("thr", "0.500") in recs
    # STAT keeps coming, on the real-time clock when the microphone gives nothing.
    stats = [r for r in recs if isinstance(r, Stats)]
    assert len(stats) == 1 and stats[0].inferences == 0 and stats[0].t_ms == (0 if fault == "mic" else 5000), stats


def test_invoke_failure_is_an_error_line_and_no_inference(fake_board):
    from tinykws.board.protocol import Error, Inference, Stats

    recs = _records(fake_board(FAKE_LOOPS=300, FAKE_INVOKE_OK=3))
    assert recs[0].status == "ok"
    kinds = ["INF" if isinstance(r, Inference) else "ERR" if r == Error("invoke", "Invoke() failed") else None
             for r in recs]
    first_err = kinds.index("ERR")
    assert kinds.count("INF") == 3 and "INF" not in kinds[first_err:], kinds
    # Every due window after that tries again (one every 100 ms once the window was full: 48 failures)
    # and says so at the 1st, 2nd, 4th ... 32nd: never a flood.
    failures = (6000 - 980) // 100 + 1 - 3
    assert failures == 48 and kinds.count("ERR") == len([n for n in range(1, failures + 1) if n & (n - 1) == 0]) == 6
    stats = [r for r in recs if isinstance(r, Stats)]
    assert len(stats) == 1 and stats[0].inferences == 3
