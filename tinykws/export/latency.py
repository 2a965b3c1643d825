"""How long the board takes per stride: features plus one inference, estimated before anything is built.

Contract: :func:`estimate_latency` takes a model (``.tflite`` bytes), its :class:`~tinykws.spec.FeatureSpec`,
the recognizer's stride, a board and an engine, and gives a :class:`LatencyEstimate`. A board
**keeps up** when features + inference take at most :data:`KEEP_UP_FRACTION` of the stride: the
rest is left for the microphone driver, the serial link and timing jitter, and a board above it
starts skipping inferences.

The estimate is an instruction count times the board's cycles per instruction
(:class:`tinykws.export.boards.CpuModel`; on the Nano measured by a Cortex-M4 timing model over QEMU's
trace of the real binary):

- features: :data:`MFCC_INSTRUCTIONS_PER_FRAME` for each new frame of the stride
  (``stride_ms / hop_ms`` frames);
- inference: for each layer (:func:`tinykws.boardcode.tflm.model_layers`), the engine's
  :data:`OP_COSTS` entry for its kind, ``per_mac * MACs + per_output * outputs + per_op``, plus
  :data:`INVOKE_INSTRUCTIONS` once.

Instruction counts are Cortex-M4 instructions as QEMU counts them (``-icount shift=0``), built with
the Nano's flags. They are an estimate, not a measurement: ``tinykws monitor`` prints the board's
measured ``inf_us`` next to it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from tinykws.errors import UserError

#: A board keeps up when features + inference take at most this share of the stride. The figures are
#: modelled cycles (:mod:`tinykws.export.boards`: a Cortex-M4 timing model over QEMU's trace, zero wait
#: states), a lower bound; the other fifth is for the microphone's and the serial link's interrupts and
#: what the model leaves out (cache misses, load-use stalls). Jitter above it is absorbed by the audio
#: ring (512 ms); a board above it on average skips inferences, it does not drop audio.
KEEP_UP_FRACTION = 0.8
#: The advice, naming options that exist, for a model too slow at any stride.
SMALLER_MODEL = "train a smaller model (`tinykws train --arch ds-cnn-xs` or `--arch tiny-conv`)"

#: Cortex-M4 instructions of the streaming MFCC per frame (window, 512-point real FFT, power, 40 mel
#: bands, log, DCT to 10), measured on QEMU with the Nano's build flags (firmware/board_flags/
#: nano33ble.txt: -Os, FPU with softfp) by ``python scripts/bench_firmware.py``: 55,841 (the same run
#: at -O2 hard float: 60,299; with the builder's soft float it would be about 833 k).
MFCC_INSTRUCTIONS_PER_FRAME = 55_841


@dataclass(frozen=True)
class OpCost:
    """Cortex-M4 instructions of one layer: ``per_mac * MACs + per_output * outputs + per_op``."""

    per_mac: float
    per_output: float
    per_op: float

    def instructions(self, macs: int, outputs: int) -> float:
        return self.per_mac * macs + self.per_output * outputs + self.per_op


#: Instructions per layer, by engine and layer kind (see :class:`tinykws.boardcode.tflm.Layer`).
#:
#: ``native``: the generated int8 engine (lib/kws_nn, DSP path), -Os with the Nano's flags, fitted to
#: the per-layer counts of ``python scripts/bench_inference.py`` for the shipped DS-CNN-S
#: (3,113,942 instructions per call): first conv 352,675 (320,000 MACs, 8,000 outputs), each 3x3
#: depthwise 172,430 (72,000 MACs), each 1x1 conv 510,666 (512,000 MACs), average pool 21,685
#: (8,000 inputs), fully connected 3,123, softmax 4,077. (The 2 channels x 4 pixels blocks and the
#: single loads that pipeline take more instructions than the LDM loops before them, 2,530,753 in
#: all, and fewer cycles: boards.NANO_NN_CPI.) Per output: the kernels' requantization
#: epilogues (about 6 instructions per output in the 1x1 and first-conv blocks, 9 in the depthwise
#: with its row loading); the rest per MAC. The first conv's fixed part (the padded input and the
#: patch copies, per output position) and the fully connected layer (the generic path, 6.6 per MAC)
#: were fitted together with tiny-conv's counts before the 2 x 4 blocks (conv 10x8 to 8 channels
#: 93,487; fully connected 5,000 MACs 35,360); the per-MAC figures are refitted to the counts above. tests/boardcode/test_native_engine_qemu.py checks the estimate against QEMU
#: for every architecture.
#:
#: ``native_portable``: the same engine's portable path (``-DKWS_NN_PORTABLE``: plain C, no SIMD
#: intrinsics), which is what a core without the M4's DSP instructions compiles, the ESP32's among
#: them. Fitted the same way to the portable column of ``scripts/bench_inference.py`` for the
#: shipped DS-CNN-S (8,033,866 instructions per call, 2.58 times the DSP path; 8,283,027 before the
#: first conv took the 2 x 4 block and the 3x3 depthwise two outputs a step, 25,438,418 before the
#: portable kernels were written for cores without SMLAD): first conv 885,666, each depthwise
#: 475,876, each 1x1 conv 1,286,824, average pool 90,202; fully connected and softmax as the DSP
#: path (they share its code).
OP_COSTS: dict[str, dict[str, OpCost]] = {
    "native_portable": {
        "conv": OpCost(per_mac=2.4929, per_output=6, per_op=39_934),
        "conv_1x1": OpCost(per_mac=2.4192, per_output=6, per_op=200),
        "depthwise": OpCost(per_mac=5.6052, per_output=9, per_op=300),
        "depthwise_time": OpCost(per_mac=0, per_output=110, per_op=300),
        "pool": OpCost(per_mac=11.199, per_output=8, per_op=100),
        "fc": OpCost(per_mac=6.6, per_output=15, per_op=499),
        "softmax": OpCost(per_mac=0, per_output=300, per_op=2_288),
        "other": OpCost(per_mac=0, per_output=0, per_op=0),
    },
    "native": {
        "conv": OpCost(per_mac=0.8273, per_output=6, per_op=39_934),
        "conv_1x1": OpCost(per_mac=0.9033, per_output=6, per_op=200),
        "depthwise": OpCost(per_mac=1.3907, per_output=9, per_op=300),
        "depthwise_time": OpCost(per_mac=0, per_output=27.3, per_op=300),
        "pool": OpCost(per_mac=2.6335, per_output=8, per_op=100),
        "fc": OpCost(per_mac=6.6, per_output=15, per_op=499),
        "softmax": OpCost(per_mac=0, per_output=300, per_op=2_288),
        "other": OpCost(per_mac=0, per_output=0, per_op=0),
    },
}

#: ``depthwise_time`` (a k x 1 depthwise convolution along time, 'valid', stride 1: the streaming
#: architectures'): fitted to ds-tcn-s trained on speech_commands_dev, 5 taps, 143,613 DSP
#: instructions for 5,248 outputs (27.3 each) and 657,547 portable for 4,224 outputs in the same run
#: of ``scripts/bench_inference.py``'s image; the time-only kernel's cost is per output (its taps).
#:
#: Streaming mode (a model :func:`tinykws.export.native.stream_plan` accepts): a stride computes only
#: its new rows, so each layer before the pool costs its per-row share times the rows of the stride
#: (:func:`stride_instructions`), the pool a running sum per new row and the head once, plus
#: :data:`STREAM_STRIDE_INSTRUCTIONS` (the window comparison, the copies, the row moves and the
#: kernels' per-call costs, fitted so that ds-tcn-s's 5-row stride matches QEMU's 439,994).
STREAM_STRIDE_INSTRUCTIONS = 40_000
#: Instructions per pooled value and row of the streaming pool's running sums.
STREAM_POOL_PER_VALUE = 9

#: Instructions per inference besides the layers (native: the call chain).
INVOKE_INSTRUCTIONS: dict[str, int] = {"native": 0}

#: The engine's two code paths: ``dsp`` (Cortex-M4 SIMD intrinsics, the Nano) and ``portable``.
NN_PATHS = ("dsp", "portable")


@dataclass(frozen=True)
class LatencyEstimate:
    """Estimated time per stride on one board with one engine.

    Attributes
    ----------
    board, engine : str
    stride_ms : int
        Audio between two inferences.
    feature_ms : float
        MFCC of the stride's new frames.
    inference_ms : float
        One inference.
    total_ms : float
        ``feature_ms + inference_ms``.
    budget_fraction : float
        ``total_ms / stride_ms``.
    keeps_up : bool
        ``budget_fraction <= KEEP_UP_FRACTION``.
    shortest_stride_ms : int or None
        The shortest stride (a multiple of the hop) this board sustains; ``None`` if none up to the clip length.
    reason : str
        Empty when it keeps up; otherwise one line saying why not and what to do.
    feature_instructions, inference_instructions : int
        The Cortex-M4 instruction counts behind the figures.
    cycles : int
        Board clock cycles of features + inference per stride (``total_ms`` at the board's clock).
    """

    board: str
    engine: str
    stride_ms: int
    feature_ms: float
    inference_ms: float
    total_ms: float
    budget_fraction: float
    keeps_up: bool
    shortest_stride_ms: int | None
    reason: str
    feature_instructions: int
    inference_instructions: int
    cycles: int = 0

    def line(self) -> str:
        """``nano33ble, native: features 6.4 ms + inference 58 ms = 64 ms per 100 ms stride (64 %; 4.12 M cycles)``."""
        return (f"{self.board}, {self.engine}: features {_ms(self.feature_ms)} + inference {_ms(self.inference_ms)} "
                f"= {_ms(self.total_ms)} per {self.stride_ms} ms stride ({100 * self.budget_fraction:.0f} %; "
                f"{self.cycles / 1e6:.2f} M cycles)")

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("feature_ms", "inference_ms", "total_ms"):
            d[k] = round(d[k], 2)
        d["budget_fraction"] = round(d["budget_fraction"], 3)
        return d


def _ms(v: float) -> str:
    return f"{v:.1f} ms" if v < 10 else f"{v:.0f} ms"


def _layers(model) -> list:
    from tinykws.boardcode.tflm import model_layers

    return model_layers(model) if isinstance(model, (bytes, bytearray)) else list(model)


def inference_instructions(model, engine: str, path: str = "dsp") -> int:
    """Cortex-M4 instructions of one inference of ``model`` (``.tflite`` bytes or its layers) with
    ``engine`` compiled for ``path`` (``"dsp"`` or ``"portable"``, see :data:`NN_PATHS`)."""
    from tinykws.export.boards import check_engine

    if path not in NN_PATHS:
        raise ValueError(path)
    costs = OP_COSTS[check_engine(engine) + ("_portable" if path == "portable" else "")]
    total = INVOKE_INSTRUCTIONS[engine]
    for l in _layers(model):
        total += costs.get(l.kind, costs["other"]).instructions(l.macs, l.outputs)
    return int(round(total))


def stride_instructions(tflite: bytes, rows: int, engine: str = "native", path: str = "dsp", *, stream=None,
                        layers=None) -> int:
    """Instructions of one stride of ``rows`` new feature rows: the streaming mode's cost for a model
    that has one, else a whole inference (:func:`inference_instructions`). ``stream`` and ``layers``:
    the model's :class:`~tinykws.export.native.StreamPlan` and layers, when the caller has them."""
    from tinykws.export.boards import check_engine
    from tinykws.export.native import stream_plan_of

    layers = layers if layers is not None else _layers(tflite)
    sp = stream if stream is not None else stream_plan_of(tflite)
    whole = inference_instructions(layers, engine, path)
    if sp is None:
        return whole
    costs = OP_COSTS[check_engine(engine) + ("_portable" if path == "portable" else "")]
    total = float(STREAM_STRIDE_INSTRUCTIONS)
    weighted = [l for l in layers if l.kind != "other"]
    pool_at = next(i for i, l in enumerate(weighted) if l.kind == "pool")
    for l in weighted[:pool_at]:
        h = max(1, int(l.out_shape[1]) if len(l.out_shape) == 4 else 1)
        share = min(rows, h) / h
        total += costs.get(l.kind, costs["other"]).instructions(l.macs * share, l.outputs * share)
    total += rows * sp.pool_row_bytes * STREAM_POOL_PER_VALUE
    for l in weighted[pool_at + 1 :]:
        total += costs.get(l.kind, costs["other"]).instructions(l.macs, l.outputs)
    return int(round(min(total, whole + STREAM_STRIDE_INSTRUCTIONS) if rows >= sp.window_rows else total))


def _cpu(board_name: str):
    from tinykws.export.boards import board

    b = board(board_name)
    if b.cpu is None:
        raise UserError(f"no CPU model for board {b.name}: its speed cannot be estimated")
    return b.cpu


def _check_stride(stride_ms: int, hop_ms: int) -> None:
    if stride_ms <= 0 or stride_ms % hop_ms:
        raise UserError(f"stride {stride_ms} ms must be a positive multiple of the hop ({hop_ms} ms)")


def _inference_ms_at(model, engine: str, cpu, whole_ms: float):
    """Inference ms as a function of the frames per stride: a constant, or the streaming mode's cost."""
    if not isinstance(model, (bytes, bytearray)):
        return whole_ms
    from tinykws.export.native import stream_plan_of

    sp = stream_plan_of(model)
    if sp is None:
        return whole_ms
    layers = _layers(model)
    return lambda k: cpu.ms(stride_instructions(model, k, engine, cpu.nn_path, stream=sp, layers=layers), nn=True)


def _shortest(feature_ms_per_frame: float, inference_ms, hop_ms: int, max_stride_ms: int) -> int | None:
    """The shortest stride (k hops) with features(k frames) + inference(k) <= KEEP_UP_FRACTION * stride;
    ``inference_ms`` is a number or a function of k (the streaming mode's cost grows with the new rows)."""
    room = KEEP_UP_FRACTION * hop_ms - feature_ms_per_frame
    if room <= 0:
        return None
    cost = inference_ms if callable(inference_ms) else (lambda k: inference_ms)
    k = 1 if callable(inference_ms) else max(1, math.ceil(inference_ms / room - 1e-9))
    while k * hop_ms <= max_stride_ms:
        if k * feature_ms_per_frame + cost(k) <= KEEP_UP_FRACTION * k * hop_ms + 1e-9:
            return k * hop_ms
        k += 1
    return None


def estimate_latency(model, spec, stride_ms: int, board: str, engine: str = "native") -> LatencyEstimate:
    """Features + inference per stride for ``model`` on ``board`` with ``engine``.

    Parameters
    ----------
    model : bytes or list of Layer
        The int8 ``.tflite`` (or :func:`tinykws.boardcode.tflm.model_layers` of it).
    spec : FeatureSpec
        The model's features (its ``hop_ms`` sets the frames per stride).
    stride_ms : int
        Audio between two inferences, a multiple of ``spec.hop_ms``.
    board : str
        A board of :data:`tinykws.export.boards.BOARDS`.
    engine : str
        One of :data:`tinykws.export.boards.ENGINES` (``"native"``).
    """
    _check_stride(stride_ms, spec.hop_ms)
    cpu = _cpu(board)
    layers = _layers(model)
    frames = stride_ms // spec.hop_ms
    sp = None
    if isinstance(model, (bytes, bytearray)):
        from tinykws.export.native import stream_plan_of

        sp = stream_plan_of(model)
    if sp is not None:
        n_inf = stride_instructions(model, frames, engine, cpu.nn_path, stream=sp, layers=layers)
    else:
        n_inf = inference_instructions(layers, engine, cpu.nn_path)
    n_feat = frames * MFCC_INSTRUCTIONS_PER_FRAME
    feature_ms, inference_ms = cpu.ms(n_feat), cpu.ms(n_inf, nn=True)
    total = feature_ms + inference_ms
    fraction = total / stride_ms
    keeps_up = fraction <= KEEP_UP_FRACTION + 1e-12
    cost = inference_ms if sp is None else (
        lambda k: cpu.ms(stride_instructions(model, k, engine, cpu.nn_path, stream=sp, layers=layers), nn=True))
    shortest = _shortest(cpu.ms(MFCC_INSTRUCTIONS_PER_FRAME), cost, spec.hop_ms, spec.clip_ms)
    reason = ""
    if not keeps_up:
        why = (f"(features {_ms(feature_ms)} + inference {_ms(inference_ms)} = {_ms(total)}, {100 * fraction:.0f} % "
               f"of the stride; at most {100 * KEEP_UP_FRACTION:.0f} % keeps up)")
        if shortest:
            advice = (f"choose the operating point again at a stride {board} sustains (`tinykws evaluate RUN --streaming "
                      f"--target-fa-per-hour 1 --board {board}`) or {SMALLER_MODEL}")
            reason = f"stride {stride_ms} ms needs ≥ {shortest} ms on {board} with {engine} {why}; {advice}"
        else:
            advice = SMALLER_MODEL
            reason = (f"{board} with {engine} cannot keep up at a stride of {stride_ms} ms nor at any up to "
                      f"{spec.clip_ms} ms {why}; {advice}")
    return LatencyEstimate(board, engine, stride_ms, feature_ms, inference_ms, total, fraction, keeps_up, shortest,
                           reason, n_feat, n_inf, round(total * cpu.clock_hz / 1000))


def shortest_sustainable_stride(model, spec, board: str, engine: str = "native", *, max_stride_ms: int | None = None) -> int:
    """The shortest stride, a multiple of ``spec.hop_ms``, at which ``board`` keeps up with ``model``.

    :class:`UserError` when no stride up to ``max_stride_ms`` (default: the clip length) is sustainable.
    """
    cpu = _cpu(board)
    inference_ms = cpu.ms(inference_instructions(_layers(model), engine, cpu.nn_path), nn=True)
    limit = max_stride_ms or spec.clip_ms
    s = _shortest(cpu.ms(MFCC_INSTRUCTIONS_PER_FRAME), _inference_ms_at(model, engine, cpu, inference_ms),
                  spec.hop_ms, limit)
    if s is None:
        raise UserError(f"{board} with {engine} cannot keep up with this model at any stride up to {limit} ms "
                        f"(inference alone {_ms(inference_ms)}): {SMALLER_MODEL}")
    return s


def estimate_table(model, spec, stride_ms: int, boards=None, engines=None) -> list[LatencyEstimate]:
    """:func:`estimate_latency` for every board and engine (default: all of them), boards first."""
    from tinykws.export.boards import BOARDS, ENGINES

    layers = _layers(model)
    return [estimate_latency(layers, spec, stride_ms, b, e) for b in (boards or list(BOARDS)) for e in (engines or ENGINES)]


def run_estimates(run, boards=None, engines=None, stride_ms: int | None = None) -> list[LatencyEstimate]:
    """:func:`estimate_table` for a loaded run (:func:`tinykws.run.load_run`), at its recognizer's stride."""
    return estimate_table(run.tflite_bytes, run.spec, stride_ms or run.recognizer.stride_ms, boards, engines)


def latency_report(tflite: bytes, spec, stride_ms: int) -> dict:
    """The ``latency`` section of a run's ``report.json``: every board and engine at the run's stride."""
    from tinykws.export.energy import estimate_energy

    rows = [{**e.to_dict(), "energy": estimate_energy(e).to_dict()} for e in estimate_table(tflite, spec, stride_ms)]
    return {"stride_ms": stride_ms, "keep_up_fraction": KEEP_UP_FRACTION, "estimates": rows}
