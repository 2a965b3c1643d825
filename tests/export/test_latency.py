"""The speed estimate: known answers for the shipped DS-CNN-S, the keep-up rule, the shortest stride."""

from dataclasses import replace
from pathlib import Path

import pytest

from tinykws.errors import UserError
from tinykws.export import boards
from tinykws.export.carray import parse_c_array
from tinykws.export.latency import (KEEP_UP_FRACTION, MFCC_INSTRUCTIONS_PER_FRAME, SMALLER_MODEL, estimate_latency, estimate_table,
                                    inference_instructions, latency_report, shortest_sustainable_stride)
from tinykws.spec import FeatureSpec
from tinykws.boardcode.tflm import Layer, model_layers

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped() -> bytes:
    return parse_c_array((REPO / "firmware" / "model" / "kws_model.cc").read_text())


def test_shipped_model_layers_and_macs(shipped):
    layers = model_layers(shipped)
    kinds = [l.kind for l in layers]
    assert kinds == ["other", "conv"] + ["depthwise", "conv_1x1"] * 4 + ["pool", "fc", "softmax"]
    # The MACs the firmware notes give for this model (conv, depthwise conv, fully connected).
    assert sum(l.macs for l in layers if l.kind != "pool") == 2_656_384
    assert layers[1].macs == 320_000 and layers[3].macs == 512_000 and layers[2].macs == 72_000


def test_nano_native_at_100_ms_keeps_up_and_at_20_ms_does_not(shipped):
    spec = FeatureSpec()
    e = estimate_latency(shipped, spec, 100, "nano33ble", "native")
    cpu = boards.BOARDS["nano33ble"].cpu
    # 5 new frames per 100 ms stride at 64 MHz, at the cycles per instruction the timing model measured.
    assert e.feature_ms == pytest.approx(5 * MFCC_INSTRUCTIONS_PER_FRAME * boards.NANO_MFCC_CPI / 64e3)
    assert e.inference_ms == pytest.approx(e.inference_instructions * boards.NANO_NN_CPI / 64e3)
    assert e.cycles == pytest.approx(e.total_ms * 64e3, abs=1)
    assert e.total_ms == pytest.approx(e.feature_ms + e.inference_ms)
    assert e.budget_fraction == pytest.approx(e.total_ms / 100)
    assert e.keeps_up and e.reason == ""
    assert e.line().startswith("nano33ble, native: features 6.4 ms + inference ") and "per 100 ms stride" in e.line()
    assert e.line().endswith(f" %; {e.cycles / 1e6:.2f} M cycles)")
    e = estimate_latency(shipped, spec, 20, "nano33ble", "native")
    assert not e.keeps_up
    assert e.reason.startswith(f"stride 20 ms needs ≥ {e.shortest_stride_ms} ms on nano33ble with native")
    assert e.reason.endswith(SMALLER_MODEL) and "tinykws evaluate RUN --streaming" in e.reason
    assert "\n" not in e.reason


def test_tflm_is_no_engine_to_estimate(shipped):
    # The firmware runs the native engine only; TFLM is the host reference, with no cost model.
    assert boards.ENGINES == ("native",)
    with pytest.raises(UserError, match="unknown engine 'tflm'; choose one of native$"):
        estimate_latency(shipped, FeatureSpec(), 100, "nano33ble", "tflm")


def test_keep_up_rule_is_80_percent_of_the_stride():
    # A made-up one-layer model whose inference is just what fits in 80 % of a 200 ms stride with its features.
    from tinykws.export import latency

    spec = FeatureSpec()
    cpu = boards.BOARDS["nano33ble"].cpu
    fc = latency.OP_COSTS["native"]["fc"]
    assert KEEP_UP_FRACTION == 0.8
    budget_instr = (KEEP_UP_FRACTION * 200 - cpu.ms(10 * MFCC_INSTRUCTIONS_PER_FRAME)) * 64e3 / cpu.nn_cycles_per_instruction
    n_macs = int((budget_instr - latency.INVOKE_INSTRUCTIONS["native"] - fc.per_op) / fc.per_mac)
    layer = Layer(0, "FULLY_CONNECTED", "fc", (1, 1), (1, 1), macs=n_macs, outputs=0)
    fits = estimate_latency([layer], spec, 200, "nano33ble", "native")
    assert fits.keeps_up and fits.budget_fraction == pytest.approx(KEEP_UP_FRACTION, abs=1e-4) and fits.reason == ""
    over = estimate_latency([replace(layer, macs=n_macs + 1000)], spec, 200, "nano33ble", "native")
    assert not over.keeps_up and over.shortest_stride_ms == 220


def test_shortest_sustainable_stride_is_a_hop_multiple_that_keeps_up(shipped):
    spec = FeatureSpec()
    for b in boards.BOARDS:
        for engine in boards.ENGINES:
            s = shortest_sustainable_stride(shipped, spec, b, engine)
            assert s % spec.hop_ms == 0
            assert estimate_latency(shipped, spec, s, b, engine).keeps_up
            if s > spec.hop_ms:
                assert not estimate_latency(shipped, spec, s - spec.hop_ms, b, engine).keeps_up
            assert estimate_latency(shipped, spec, 100, b, engine).shortest_stride_ms == s


def test_a_model_too_slow_for_any_stride_is_a_clear_error():
    spec = FeatureSpec()
    huge = [Layer(0, "CONV_2D", "conv_1x1", (1, 1, 1), (1, 1, 1), macs=10**9, outputs=1)]
    with pytest.raises(UserError, match=r"nano33ble with native cannot keep up with this model at any stride up to "
                                        r"1000 ms .*: train a smaller model \(`tinykws train --arch ds-cnn-xs`"):
        shortest_sustainable_stride(huge, spec, "nano33ble", "native")
    e = estimate_latency(huge, spec, 100, "nano33ble", "native")
    assert not e.keeps_up and e.shortest_stride_ms is None and e.reason.startswith(
        "nano33ble with native cannot keep up at a stride of 100 ms nor at any up to 1000 ms (")
    assert e.reason.endswith("; " + SMALLER_MODEL)


def test_bad_input_is_refused(shipped):
    spec = FeatureSpec()
    with pytest.raises(UserError, match="stride 90 ms must be a positive multiple of the hop"):
        estimate_latency(shipped, spec, 90, "nano33ble", "native")
    with pytest.raises(UserError, match="unknown board 'uno'"):
        estimate_latency(shipped, spec, 100, "uno", "native")
    with pytest.raises(UserError, match="unknown engine 'cmsis'"):
        estimate_latency(shipped, spec, 100, "nano33ble", "cmsis")
    with pytest.raises(UserError, match="not a readable .tflite"):
        model_layers(b"not a model")


def test_table_and_report_cover_every_board_and_engine(shipped):
    spec = FeatureSpec()
    rows = estimate_table(shipped, spec, 100)
    assert [(r.board, r.engine) for r in rows] == [(b, e) for b in boards.BOARDS for e in boards.ENGINES]
    # The ESP32 compiles the engine's portable path (no SMLAD): 2.66x the Nano's instructions (whose
    # DSP path spends 1.19 cycles on each), 1.5 Xtensa instructions each, at 240 MHz against 64: about
    # as fast as the Nano, not 3.75x faster.
    by = {(r.board, r.engine): r for r in rows}
    assert by["esp32dev", "native"].inference_instructions > 2.5 * by["nano33ble", "native"].inference_instructions
    assert 0.5 < by["esp32dev", "native"].inference_ms / by["nano33ble", "native"].inference_ms < 1.5
    rep = latency_report(shipped, spec, 100)
    assert rep["stride_ms"] == 100 and len(rep["estimates"]) == len(rows)
    assert {"board", "engine", "feature_ms", "inference_ms", "total_ms", "keeps_up", "shortest_stride_ms"} <= set(rep["estimates"][0])


def test_run_report_prints_the_estimate_per_board_and_engine(shipped):
    from tinykws.evaluate.report import latency_md

    rep = latency_report(shipped, FeatureSpec(), 100)
    md = "\n".join(latency_md(rep))
    assert "## Speed on the boards (estimate, 100 ms stride)" in md and "at most 80 % of the stride" in md
    for e in rep["estimates"]:
        assert f"| {e['board']} | {e['engine']} | {e['feature_ms']:.1f} ms | {e['inference_ms']:.1f} ms |" in md
    assert latency_md(None) == []


def test_the_esp32_is_estimated_on_the_portable_path(shipped):
    from tinykws.export.latency import inference_instructions

    # scripts/bench_inference.py on QEMU: DSP path 3,113,942, portable path 8,033,866 instructions.
    assert inference_instructions(shipped, "native") == pytest.approx(3_113_942, rel=0.002)
    assert inference_instructions(shipped, "native", "portable") == pytest.approx(8_033_866, rel=0.002)
    e = estimate_latency(shipped, FeatureSpec(), 100, "esp32dev")
    assert e.inference_instructions == inference_instructions(shipped, "native", "portable")
    # 8.03 M x 1.432 Xtensa instructions per M4 portable instruction (11.5 M measured on the lx106
    # stand-in) x 1.2 cycles at 240 MHz: about 58 ms, so 100 ms keeps up and 80 ms is the shortest.
    assert 55 < e.inference_ms < 70
    assert e.keeps_up and e.shortest_stride_ms == 80
    fast = estimate_latency(shipped, FeatureSpec(), 60, "esp32dev")
    assert not fast.keeps_up and "needs ≥ 80 ms on esp32dev" in fast.reason
    nano = estimate_latency(shipped, FeatureSpec(), 100, "nano33ble")
    assert nano.keeps_up and nano.inference_instructions == inference_instructions(shipped, "native")


def _options_exist(text):
    """Every `tinykws CMD --opt value` (or a bare `--opt value` after it) in ``text`` names an option CMD has,
    with a value its choices allow."""
    import re

    import click

    from tinykws.cli.main import cli

    spans = re.findall(r"`([^`]*)`", text)
    assert spans and spans[0].startswith("tinykws "), text
    cmd = None
    for span in spans:
        words = span.split()
        if words[0] == "tinykws":
            cmd = cli.get_command(click.Context(cli), words[1])
            assert cmd is not None, span
            words = words[2:]
        params = {o: p for p in cmd.params for o in [*p.opts, *p.secondary_opts]}
        for i, w in enumerate(words):
            if w.startswith("--"):
                assert w in params, f"{cmd.name} has no {w}: {text}"
                if isinstance(params[w].type, click.Choice):
                    assert words[i + 1] in params[w].type.choices, span


def test_too_slow_hints_name_options_that_exist(shipped, monkeypatch):
    spec = FeatureSpec()
    _options_exist(estimate_latency(shipped, spec, 60, "esp32dev").reason)  # 80 ms is its shortest stride
    nano = boards.BOARDS["nano33ble"]
    for clock_hz, stride in ((20_000_000, 100), (1_000_000, 100)):  # native too slow at 100 ms; at any stride
        monkeypatch.setitem(boards.BOARDS, "nano33ble", replace(nano, cpu=replace(nano.cpu, clock_hz=clock_hz)))
        e = estimate_latency(shipped, spec, stride, "nano33ble", "native")
        assert not e.keeps_up
        _options_exist(e.reason)
    with pytest.raises(UserError) as err:
        shortest_sustainable_stride(shipped, spec, "nano33ble", "native")
    _options_exist(str(err.value))
