"""The whole firmware core on the emulated Cortex-M4F equals the host build, line for line.

The QEMU image (firmware/test/qemu/app_selftest.c) runs the board's application loop as the board does:
streaming MFCC -> window -> the native int8 engine -> recognizer -> protocol lines, built with the Nano's
real compiler flags, on speech the project synthesizes itself (eSpeak NG). The host replays the same audio
through the host build of the same core, with the same delivery schedule (one hop at a time) and the
same clock (audio time), and the engine on the host (the same kernels, bit-exact with TFLM). Scores,
top labels, detections and counters must be identical; only the stage timings (feat_us, inf_us,
total_us) are the machines' own.
"""

import json
import types

import numpy as np
import pytest

from tinykws.paths import default_model_dir
from tinykws.boardcode.cross import run_app_on_qemu, toolchain_missing

pytestmark = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))

TIMING_FIELDS = ("feat_us", "inf_us", "total_us")


def spoken_stream(words=("yes", "no", "up", "down", "yes"), seed=0):
    """Synthetic speech: each word centred in 1 s, 0.6 s apart, over quiet noise (int16)."""
    from tinykws.data.audio import to_int16
    from tinykws.data.synth import centre_spoken, synthesize_clip

    rng = np.random.default_rng(seed)
    gap = np.zeros(9600, np.float32)
    parts = [gap]
    for w in words:
        parts += [centre_spoken(synthesize_clip(w, voice="en-us"), 16000, 16000) * 0.3, gap]
    y = np.concatenate(parts)
    y = y + rng.normal(0, 10 ** (-50 / 20), len(y)).astype(np.float32)
    return to_int16(y)


def shipped_model():
    from tinykws.recognizer import RecognizerConfig
    from tinykws.spec import FeatureSpec

    d = default_model_dir()
    info = json.loads((d / "model.json").read_text())
    spec = FeatureSpec()
    assert spec.sha256 == info["spec_sha256"]
    keys = ("input_scale", "input_zero_point", "output_scale", "output_zero_point")
    run = types.SimpleNamespace(labels=info["labels"], spec=spec, model_sha256=info["model_sha256"],
                                arena_bytes=info["arena_bytes"], report={"model": {k: info[k] for k in keys}},
                                recognizer=RecognizerConfig(**info["recognizer"]))
    return d, run


def host_lines(pcm, model_dir, run):
    """The host build of the core, fed and clocked exactly as app_selftest.c feeds the emulated one."""
    from tinykws.export.carray import parse_c_array
    from tinykws.boardcode.native import App
    from tinykws.boardcode.native_engine import NativeNet

    net = NativeNet(parse_c_array((model_dir / "kws_model.cc").read_text()), path="portable")
    hop = run.spec.hop_length
    state = {"delivered": 0, "consumed": 0}

    def audio(max_n):
        n = min(max_n, state["delivered"] - state["consumed"])
        chunk = pcm[state["consumed"] : state["consumed"] + n]
        state["consumed"] += n
        return chunk

    lines = []
    app = App(run, lambda x: net.run(x)[0], lambda line: lines.append(line.rstrip("\n")), audio=audio,
              micros=lambda: state["delivered"] * 1_000_000 // run.spec.sample_rate, realtime=True)
    while state["delivered"] < len(pcm):
        state["delivered"] = min(len(pcm), state["delivered"] + hop)
        app.step()
    return lines


def without_timings(line):
    return " ".join(f for f in line.split() if f.split("=")[0] not in TIMING_FIELDS)


def test_whole_core_on_cortex_m4_equals_the_host_build():
    model_dir, run = shipped_model()
    pcm = spoken_stream()
    arm = run_app_on_qemu(pcm, model_dir)
    host = host_lines(pcm, model_dir, run)
    arm_inf = [without_timings(l) for l in arm if l.startswith(("INF", "DET", "STAT"))]
    host_inf = [without_timings(l) for l in host if l.startswith(("INF", "DET", "STAT"))]
    n_inf = sum(l.startswith("INF") for l in arm_inf)
    n_det = sum(l.startswith("DET") for l in arm_inf)
    print(f"QEMU whole core: {n_inf} inferences, {n_det} detections; BOOT: {arm[0]}")
    assert arm[0].startswith("BOOT") and "status=ok" in arm[0] and "engine=native" in arm[0]
    assert n_inf >= 40  # 100 ms stride over ~8 s of audio, none skipped (the audio clock never outruns it)
    assert n_det >= 1  # the shipped model hears the synthetic words
    assert arm_inf == host_inf


def _last_stats(lines):
    from tinykws.board.protocol import Stats, parse_line

    stats = [m for m in map(parse_line, lines) if isinstance(m, Stats)]
    assert stats, lines[-5:]
    return stats[-1]


def test_whole_core_in_real_time_on_cortex_m4_skips_and_never_drops():
    """The clock is the emulated core's own cycles (instructions x the Nano's measured CPI): at 64 MHz the
    shipped model keeps up at its stride; on a board of half the clock the same core skips inferences, and
    the ring (the Nano port's size) loses nothing either way."""
    from tests.boardcode.test_app_realtime import nano_ring_capacity
    from tinykws.export.boards import NANO_NN_CPI

    model_dir, run = shipped_model()
    pcm = spoken_stream(("yes", "no", "yes"))
    stride = run.recognizer.stride_ms
    due = (len(pcm) - run.spec.clip_samples) * 1000 // run.spec.sample_rate // stride
    ring = nano_ring_capacity()
    fast = run_app_on_qemu(pcm, model_dir, clock_hz=64_000_000, cycles_per_instruction=NANO_NN_CPI, ring_samples=ring)
    slow = run_app_on_qemu(pcm, model_dir, clock_hz=32_000_000, cycles_per_instruction=NANO_NN_CPI, ring_samples=ring)
    for lines in (fast, slow):
        assert lines[0].startswith("BOOT") and "status=ok" in lines[0]
    s_fast, s_slow = _last_stats(fast), _last_stats(slow)
    inf_us = [int(f.split("=")[1]) for l in fast if l.startswith("INF") for f in l.split() if f.startswith("inf_us=")]
    print(f"64 MHz: {s_fast}; 32 MHz: {s_slow}; inference {np.median(inf_us) / 1000:.1f} ms at 64 MHz")
    # inf_us is the board's own clock: ~58 ms for the shipped model's 3.72 M modelled cycles at 64 MHz.
    assert 50_000 < np.median(inf_us) < 80_000
    assert s_fast.dropped == 0 and s_slow.dropped == 0
    n_fast, n_slow = (sum(l.startswith("INF") for l in lines) for lines in (fast, slow))
    assert s_fast.skipped <= 1 and n_fast >= 0.8 * due
    assert s_slow.skipped > 0 and n_slow < 0.8 * n_fast
