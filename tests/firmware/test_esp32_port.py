"""The real ESP32 port (firmware/ports/esp32dev) with main.cpp and the core, on the host, over a model of
ESP-IDF 4.4's I2S DMA queue (tests/firmware/esp32_fake_idf.cpp) and an engine as slow as the board's.

A board whose inference takes longer than the stride must skip inferences, never drop audio: the port
has to read a whole hop across DMA buffers, or the core takes every short read for a dry source, infers
on a stale window and lets the DMA backlog overflow.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FW = REPO / "firmware"
STANDIN = REPO / "scripts" / "esp32_standin"
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(shutil.which("g++") is None or shutil.which("cc") is None, reason="no C/C++ compiler")


def _run(cmd, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def build_and_run(tmp_path: Path, *defines: str) -> list[str]:
    inc = ["-I", STANDIN, "-I", FW / "lib/kws_core/include", "-I", FW / "model", "-I", FW / "app"]
    defs = ["-DKWS_BOARD_NAME=\"esp32dev\"", *defines]
    objs = []
    for src in [*sorted((FW / "lib/kws_core/src").glob("*.c")), FW / "app/kws_app_config.c"]:
        obj = tmp_path / (src.stem + ".o")
        _run(["cc", "-std=c99", "-O1", *defs, *inc, "-c", src, "-o", obj])
        objs.append(obj)
    for src in [FW / "app/main.cpp", FW / "app/kws_model_data.cpp", FW / "ports/esp32dev/port_esp32dev.cpp",
                HERE / "esp32_fake_idf.cpp"]:
        obj = tmp_path / (src.stem + ".o")
        _run(["g++", "-std=gnu++11", "-O1", *defs, *inc, "-c", src, "-o", obj])
        objs.append(obj)
    exe = tmp_path / "esp32_app"
    _run(["g++", *objs, "-o", exe, "-lm"])
    return _run([exe], timeout=120).stdout.splitlines()


def last_stat(lines: list[str]) -> dict[str, float]:
    stats = [l for l in lines if l.startswith("STAT ")]
    assert stats, lines[:20]
    return {k: float(v) for k, v in re.findall(r"(\w+)=([-0-9.]+)", stats[-1])}


def test_a_slow_engine_skips_inferences_and_drops_no_audio(tmp_path):
    lines = build_and_run(tmp_path)  # 105 ms per inference at the shipped model's 100 ms stride, 20 s
    assert lines[0].startswith("BOOT ") and " status=ok" in lines[0], lines[0]
    s = last_stat(lines)
    end = dict(re.findall(r"(\w+)=(\d+)", lines[-1]))
    assert s["dropped"] == 0 and s["overflows"] == 0 and int(end["driver_overflows"]) == 0, (s, lines[-1])
    assert s["skipped"] > 0, s
    # It keeps up with what it can: about one inference per 105 ms + the features of the hops it read.
    assert 120 <= int(end["invocations"]) <= 20_000 / 105, lines[-1]
    # Commands are answered in time even while the engine is the bottleneck.
    assert sum(l.startswith("INFO ") for l in lines) == 2 and any(l.startswith("ACK ") for l in lines), lines


def test_a_fast_engine_infers_every_stride(tmp_path):
    lines = build_and_run(tmp_path, "-DFAKE_ENGINE_US=20000")
    s = last_stat(lines)
    end = dict(re.findall(r"(\w+)=(\d+)", lines[-1]))
    assert s["dropped"] == 0 and s["skipped"] == 0, s
    assert int(end["invocations"]) >= 20_000 / 100 - 12, lines[-1]  # every 100 ms stride once the window is full
    # 20 ms of every 100 ms computing: the loop sleeps (delay, one FreeRTOS tick each) most of the rest.
    assert int(end["idles"]) * 1000 > 0.6 * 20_000_000, lines[-1]


def test_the_loop_task_feeds_the_watchdog_once_per_whole_loop_and_sleeps_when_idle(tmp_path):
    lines = build_and_run(tmp_path)
    end = dict(re.findall(r"(\w+)=(\d+)", lines[-1]))
    # The task watchdog is set to reset (panic) after 8 s, with the loop's own task subscribed.
    assert int(end["wdt_timeout_s"]) == 8 and int(end["wdt_tasks"]) == 1, lines[-1]
    # Fed exactly once in every pass of loop(), after the step: the longest gap is one inference, not 8 s.
    assert int(end["unfed_loops"]) == 0 and int(end["feeds"]) == int(end["loops"]), lines[-1]
    assert 105_000 <= int(end["max_feed_gap_us"]) < 1_000_000, lines[-1]
    # An engine slower than the stride leaves little to sleep, but the loop still does when a pass found nothing.
    assert int(end["idles"]) > 0, lines[-1]
    assert " reset=power" in lines[0], lines[0]


def test_boot_says_the_board_was_reset_by_its_watchdog(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_RESET_WDT", "1")
    lines = build_and_run(tmp_path)
    assert lines[0].startswith("BOOT ") and " reset=wdt" in lines[0], lines[0]
