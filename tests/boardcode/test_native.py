"""The portable C core, built with the host compiler: MFCC parity, quantization, recognizer, protocol, app loop."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tinykws.board.protocol import Ack, Audio, Boot, Detection, Error, Inference, Stats, parse_line
from tinykws.recognizer import RecognizerConfig
from tinykws.features import compute_mfcc
from tinykws.boardcode.native import (App, Recognizer, StreamingMfcc, encode_ack, encode_audio, encode_boot, encode_detection,
                            encode_error, encode_inference, encode_stats, load_core, quantize_window)
from tinykws.model.quantize import quantize_input
from tinykws.paths import default_model_dir
from tinykws.spec import FeatureSpec

SPEC = FeatureSpec()
REPO = Path(__file__).resolve().parents[2]
# Tolerances stated in docs/firmware.md: 1e-3 on MFCC values, except in frames whose quietest mel
# bands sit ~90 dB below their loudest, where float32 FFT rounding (on either side) reaches the log:
# there up to 2e-3, on at most 0.01 % of values.
MFCC_ABS_TOL = 1e-3
MFCC_ABS_TOL_WORST = 2e-3


def default_input_quant():
    info = json.loads((default_model_dir() / "model.json").read_text())
    return info["input_scale"], info["input_zero_point"]


def c_mfcc(pcm, chunk=320):
    m = StreamingMfcc(SPEC)
    return np.concatenate([m.push(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)])


def test_core_builds_and_loads():
    core = load_core(SPEC)
    assert core.path.is_file()


@pytest.mark.parametrize("chunk", [1, 7, 320, 333, 16000])
def test_mfcc_parity_any_chunk_size(chunk):
    rng = np.random.default_rng(chunk)
    pcm = (rng.normal(0, 4000, 16000) * np.hanning(16000)).astype(np.int16)
    c = c_mfcc(pcm, chunk)
    assert c.shape == (49, 10)
    assert np.abs(c - compute_mfcc(pcm, SPEC)).max() <= MFCC_ABS_TOL


def test_streaming_continues_across_clips():
    rng = np.random.default_rng(5)
    pcm = rng.normal(0, 3000, 3 * 16000).astype(np.int16)
    c = c_mfcc(pcm, 500)
    ref = compute_mfcc(pcm, SPEC)  # frames of the whole 3 s
    assert c.shape == ref.shape == (1 + (48000 - 512) // 320, 10)
    assert np.abs(c - ref).max() <= MFCC_ABS_TOL


@pytest.mark.parametrize("case", ["silence", "square", "clipped"])
def test_mfcc_parity_edge_cases(case):
    n = np.arange(16000)
    if case == "silence":
        pcm = np.zeros(16000, np.int16)
    elif case == "square":
        pcm = np.where(n % 40 < 20, 32767, -32768).astype(np.int16)
    else:
        pcm = np.clip(np.sin(2 * np.pi * 440 * n / 16000) * 60000, -32768, 32767).astype(np.int16)
    c = c_mfcc(pcm)
    ref = compute_mfcc(pcm, SPEC)
    # Large values (|c0| ~ 600) carry float32 rounding of ~1e-5 relative.
    assert np.all(np.abs(c - ref) <= np.maximum(MFCC_ABS_TOL, 2e-6 * np.abs(ref)))


def test_mfcc_parity_on_real_speech_test_split(shared_speech):
    """Every frame of every test-split clip; and the int8 model inputs those frames become."""
    from tinykws.data.dataset import discover, load_examples
    from tinykws.features import pcm_to_float  # noqa: F401
    from tinykws.data.audio import to_int16

    ds = discover(shared_speech, ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"])
    ex = [e for e in ds.split("test") if e.kind == "clip"]
    Y, _ = load_examples(ex, 16000, 16000)
    pcm = to_int16(Y)
    scale, zp = default_input_quant()
    max_err, same, total, worst_step, over, values = 0.0, 0, 0, 0, 0, 0
    m = StreamingMfcc(SPEC)
    for clip in pcm:
        m.reset()
        c = m.push(clip)
        ref = compute_mfcc(clip, SPEC)
        err = np.abs(c - ref)
        max_err = max(max_err, float(err.max()))
        over += int(np.count_nonzero(err > MFCC_ABS_TOL))
        values += err.size
        qc, qr = quantize_window(c, scale, zp), quantize_input(ref, scale, zp)
        d = np.abs(qc.astype(int) - qr.astype(int))
        same += int(np.count_nonzero(d == 0))
        total += d.size
        worst_step = max(worst_step, int(d.max()))
    print(f"{len(pcm)} clips: MFCC max abs error {max_err:.2e}, {100 * over / values:.4f} % of values over "
          f"{MFCC_ABS_TOL}; int8 inputs identical {100 * same / total:.4f} %, worst {worst_step} step")
    assert len(pcm) > 150
    assert max_err <= MFCC_ABS_TOL_WORST and over / values <= 1e-4
    assert same / total >= 0.999 and worst_step <= 1


def test_quantization_matches_numpy_rounding():
    frames = np.linspace(-300, 300, 490, dtype=np.float32).reshape(49, 10)
    frames[0, :4] = [0.5, 1.5, 2.5, -2.5]  # halves round to even
    q = quantize_window(frames, 1.0, 0)
    assert np.array_equal(q, quantize_input(frames, 1.0, 0))
    assert np.array_equal(quantize_window(frames, 2.7, -7), quantize_input(frames, 2.7, -7))


LABELS = ["yes", "no", "_unknown_", "_silence_"]


def scripted(rec, seq):
    r = Recognizer(LABELS, rec)
    return [(t, r.push(np.array(s, np.float32), t)) for t, s in seq]


def test_recognizer_detects_once_and_suppresses():
    rec = RecognizerConfig(stride_ms=100, average_window_ms=500, threshold=0.7, suppression_ms=1000, min_count=3)
    yes = [0.9, 0.05, 0.03, 0.02]
    quiet = [0.0, 0.0, 0.0, 1.0]
    seq = [(t, quiet) for t in range(0, 500, 100)] + [(t, yes) for t in range(500, 1500, 100)]
    seq += [(t, quiet) for t in range(1500, 2500, 100)] + [(t, yes) for t in range(2500, 3200, 100)]
    dets = [(t, d) for t, d in scripted(rec, seq) if d]
    assert [d[0] for _, d in dets] == [0, 0]
    # The first fires once the 500 ms average crosses 0.7 (3 of 5 yes inferences: 0.54, 4 of 5: 0.72).
    assert dets[0][0] == 800
    assert dets[1][0] >= 2500 and dets[1][0] - dets[0][0] >= 1000


def test_recognizer_threshold_edge_and_min_count():
    rec = RecognizerConfig(stride_ms=100, average_window_ms=300, threshold=0.6, suppression_ms=0, min_count=2)
    at = [0.6, 0.2, 0.1, 0.1]
    below = [0.59, 0.21, 0.1, 0.1]
    out = scripted(rec, [(0, at)])
    assert out[0][1] is None  # min_count not reached
    assert scripted(rec, [(0, at), (100, at)])[1][1] == (0, pytest.approx(0.6))
    assert all(d is None for _, d in scripted(rec, [(t, below) for t in range(0, 1000, 100)]))


def test_recognizer_never_reports_silence_or_unknown():
    rec = RecognizerConfig(threshold=0.5, min_count=1)
    seq = [(t, [0.0, 0.0, 1.0, 0.0]) for t in range(0, 2000, 100)] + [(t, [0.0, 0.0, 0.0, 1.0]) for t in range(2000, 4000, 100)]
    assert all(d is None for _, d in scripted(rec, seq))


def test_encoded_lines_parse_back():
    assert parse_line(encode_inference(10240, 1830, 41210, 43512, "yes", 0.9139)) == Inference(10240, 1830, 41210, 43512, "yes", 0.914)
    assert parse_line(encode_detection(99, "no", 1.0)) == Detection(99, "no", 1.0)
    assert parse_line(encode_stats(15000, 250, 50.04, 1, 3, 2, "rec", 7, 9)) == Stats(15000, 250, 50.0, 1, 3, 2, "rec", 7, 9)
    # Lines of older firmware, without the appended fields, still parse.
    assert parse_line("STAT t_ms=1 inferences=2 rate_hz=0.5 detections=0 dropped=0 overflows=0 mode=idle").skipped is None
    assert parse_line(encode_ack("thr", "0.800")) == Ack("thr", "0.800")
    assert parse_line(encode_error("bad_arg", "threshold must be in (0, 1]")) == Error("bad_arg", "threshold must be in (0, 1]")
    b = parse_line(encode_boot("BOOT", {"model": "a" * 64, "spec": SPEC.sha256, "labels": "yes,no", "arena_used": 12,
                                        "arena_size": 32, "board": "nano33ble"}))
    assert isinstance(b, Boot) and b.labels == ("yes", "no") and b.proto == 1 and b.board == "nano33ble"
    pcm = np.random.default_rng(0).integers(-32768, 32768, 256).astype(np.int16)
    a = parse_line(encode_audio(7, pcm))
    assert isinstance(a, Audio) and a.crc_ok and a.seq == 7 and np.array_equal(a.samples, pcm)
    assert len(encode_audio(0, pcm)) <= 1024


def _feed_like_a_microphone(app, pcm, chunk=256):
    for i in range(0, len(pcm), chunk):
        app.feed(pcm[i : i + chunk])
        app.step()


def test_app_loop_detects_the_spoken_words(tiny_run):
    """The whole C loop on the host, with an engine whose decisions sit far from the threshold.

    The engine hears exactly the words of the stream (tests.helpers.oracle_engine), so the
    windows, stride, recognizer, time stamps and protocol lines are checked on any machine.
    """
    from tests.helpers import keyword_stream, oracle_engine
    from tinykws.data.audio import to_int16
    from tinykws.recognizer import RecognizerConfig
    from tinykws.run import load_run

    # The default recognizer (100 ms stride), not the run's chosen operating point: the checks below
    # count inferences and time stamps at that stride.
    run = replace(load_run(tiny_run), recognizer=RecognizerConfig())
    words = ["up", "down", "down", "up", "flat", "up"]
    y, marks = keyword_stream(words, gap_s=1.5, seed=2)
    lines = []
    app = App(run, oracle_engine(run, marks, lambda: app.time_ms()), lines.append)
    app.command("thr 0.8")
    pcm = to_int16(y)
    _feed_like_a_microphone(app, pcm)
    recs = [parse_line(l) for l in lines]
    assert isinstance(recs[0], Boot) and recs[0].model == run.model_sha256
    assert recs[1] == Ack("thr", "0.800")
    infs = [r for r in recs if isinstance(r, Inference)]
    assert len(infs) == pytest.approx(len(pcm) / 16000 * 10 - 9, abs=2)  # every 100 ms once the window is full
    dets = [r for r in recs if isinstance(r, Detection)]
    expected = [(w, t) for w, t in marks if w != "flat"]
    assert [d.label for d in dets] == [w for w, _ in expected]
    for d, (_, t) in zip(dets, expected):
        assert t * 1000 <= d.t_ms <= t * 1000 + 1000


def test_app_loop_runs_the_int8_model_on_tflm(tiny_run):
    """With the trained model as the engine: every window inferred, and detections are exactly what
    the C recognizer makes of the model's scores (whatever those scores are on this machine)."""
    from tests.helpers import keyword_stream
    from tinykws.data.audio import to_int16
    from tinykws.evaluate.streaming import recognize
    from tinykws.run import load_run
    from tinykws.boardcode.tflm import TflmModel

    run = load_run(tiny_run)
    y, _ = keyword_stream(["up", "down", "flat", "up"], gap_s=1.5, seed=2)
    model = TflmModel(run.tflite_bytes, run.arena_bytes)
    outputs, times = [], []

    def engine(x):
        outputs.append(model.predict_one(x))
        times.append(app.time_ms())
        return outputs[-1]

    lines = []
    app = App(run, engine, lines.append)
    app.command("thr 0.5")
    _feed_like_a_microphone(app, to_int16(y))
    recs = [parse_line(l) for l in lines]
    infs = [r for r in recs if isinstance(r, Inference)]
    assert len(infs) == len(outputs) > 50 and all(r.total_us >= r.inf_us > 0 for r in infs)
    assert [r.t_ms for r in infs] == times
    q = np.stack(outputs).astype(np.int32)
    scores = ((q - run.report["model"]["output_zero_point"]) * np.float32(run.report["model"]["output_scale"])).astype(np.float32)
    assert [r.top for r in infs] == [run.labels[i] for i in scores.argmax(axis=1)]
    replay = recognize(np.array(times), scores, run.labels, replace(run.recognizer, threshold=0.5))
    dets = [r for r in recs if isinstance(r, Detection)]
    assert [(d.t_ms, d.label) for d in dets] == [(round(d.t_s * 1000), d.label) for d in replay]


def test_app_commands_and_recording(tiny_run):
    from tinykws.run import load_run

    run = load_run(tiny_run)
    lines = []
    app = App(run, lambda x: np.zeros(4, np.int8), lines.append)
    app.command("thr 0.55")
    app.command("thr 7")
    app.command("dance")
    app.command("info")
    app.command("rec start")
    pcm = (np.arange(1000) - 500).astype(np.int16)
    app.feed(pcm)
    app.step()
    app.command("rec stop")
    recs = [parse_line(l) for l in lines[1:]]
    assert recs[0] == Ack("thr", "0.550")
    assert isinstance(recs[1], Error) and recs[1].code == "bad_arg"
    assert isinstance(recs[2], Error) and recs[2].code == "bad_cmd"
    assert isinstance(recs[3], Boot) and recs[3].tag == "INFO"
    assert recs[4] == Ack("rec", "start")
    auds = [r for r in recs if isinstance(r, Audio)]
    assert [a.seq for a in auds] == [0, 1, 2]
    assert np.array_equal(np.concatenate([a.samples for a in auds]), pcm[:768])
    assert recs[-1] == Ack("rec", "stop")


def test_stats_keep_coming_without_audio(tiny_run):
    """A dead microphone must not silence the board: STAT lines continue on the real-time clock."""
    from tinykws.run import load_run

    clock = {"us": 0}
    lines = []
    app = App(load_run(tiny_run), lambda x: np.zeros(4, np.int8), lines.append, micros=lambda: clock["us"],
              stats_period_ms=1000)
    for _ in range(5):
        clock["us"] += 600_000
        app.step()  # no audio queued
    stats = [parse_line(l) for l in lines if l.startswith("STAT")]
    assert len(stats) == 2 and all(s.rate_hz == 0.0 and s.inferences == 0 for s in stats)


def test_boot_engine_fields_round_trip():
    ident = {"model": "a" * 64, "spec": SPEC.sha256, "labels": "yes,no", "engine": "native", "weights_crc": 0x0012ABCD}
    line = encode_boot("BOOT", ident)
    assert line.rstrip("\n").endswith(" status=ok engine=native weights_crc=0012abcd"), line
    b = parse_line(line)
    assert b.engine == "native" and b.weights_crc == 0x0012ABCD and b.labels_cut == 0
    # A zeroed identity leaves them out (older hosts see the line they know).
    plain = encode_boot("INFO", {"labels": "yes,no"})
    assert "engine=" not in plain and "weights_crc=" not in plain
    assert parse_line(plain).engine is None and parse_line(plain).weights_crc is None


def test_boot_line_too_long_keeps_the_leading_labels_and_says_so():
    labels = [f"word_{i:03d}" for i in range(120)]  # ~1100 characters of labels alone
    line = encode_boot("BOOT", {"model": "a" * 64, "spec": SPEC.sha256, "labels": ",".join(labels), "engine": "tflm"})
    assert line and len(line) <= 1024 and line.endswith("\n")
    b = parse_line(line)
    assert isinstance(b, Boot) and b.engine == "tflm"
    assert 0 < len(b.labels) < 120 and list(b.labels) == labels[: len(b.labels)]
    assert b.labels_cut == 120 - len(b.labels)
    # Nothing to cut: the encoder writes nothing, and the app says so in an ERR line instead.
    assert encode_boot("BOOT", {"board": "x" * 1100, "labels": "a"}) == ""


def test_small_thresholds_are_acknowledged_as_set(tiny_run_free_app):
    app, lines = tiny_run_free_app
    app.command("thr 0.0004")
    app.command("thr 0.8")
    app.command("thr 0.0000001")  # would read 0.000000: refused
    recs = [parse_line(l) for l in lines[1:]]
    assert recs[0] == Ack("thr", "0.0004") and recs[1] == Ack("thr", "0.800")
    assert isinstance(recs[2], Error) and recs[2].code == "bad_arg"


def test_threshold_round_trip_host_board_host(tiny_run_free_app):
    from tinykws.board.protocol import ack_threshold, encode_command, format_threshold
    from tinykws.boardcode.native import format_threshold as c_format_threshold, parse_command

    app, lines = tiny_run_free_app
    for x in (0.0004, 0.8, 0.55, 0.123456, 1.0, 0.000001):
        assert format_threshold(x) == c_format_threshold(x)
        cmd = encode_command("thr", x).decode()
        assert parse_command(cmd).threshold == pytest.approx(x, rel=1e-5)
        app.command(cmd.strip())
        ack = parse_line(lines[-1])
        assert ack_threshold(ack) == pytest.approx(x, rel=1e-5), (x, lines[-1])


@pytest.fixture
def tiny_run_free_app():
    from types import SimpleNamespace

    run = SimpleNamespace(spec=SPEC, labels=LABELS, model_sha256="ab" * 32, arena_bytes=0,
                          recognizer=RecognizerConfig(),
                          report={"model": {"input_scale": 0.5, "input_zero_point": 0, "output_scale": 1 / 256,
                                            "output_zero_point": -128}})
    lines = []
    return App(run, lambda x: np.zeros(4, np.int8), lines.append), lines
