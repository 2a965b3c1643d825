#!/usr/bin/env python3
"""Instructions, RAM and flash of one inference with the native engine on an emulated Cortex-M4.

    python scripts/bench_inference.py [MODEL_DIR] [--windows N] [--stride-ms 100] [--tflm TFLM_TREE]

MODEL_DIR is a model folder (default: firmware/model, the shipped model). The script builds two
QEMU mps2-an386 images with Debian's arm-none-eabi-gcc and the Nano 33 BLE's compiler flags: the
engine's DSP path and its portable path. Each runs kws_net_invoke on the same windows (tones,
chirps and noise through the firmware's C MFCC, quantized with the model's input scale) under
`-icount shift=0`, so SysTick ticks are instructions. It prints a table per layer (mean over the
windows) with the portable/DSP ratio measured in this run, checks every window's scores and every
layer's output against the tflite-micro interpreter (bit_exact), reads RAM and flash from the ELF,
and measures the C MFCC per frame with the same flags. A model with a streaming mode (native
engine, tinykws.export.native.stream_plan) also runs kws_net_stream_window on consecutive windows of
one stream of that audio, a stride apart, as the firmware does: instructions per stride (after the
first window), and its scores against tflite-micro's on each whole window.

Cycles: the DSP path is built once more with markers (-DKWS_CYCLE_TRACE) and run with QEMU's log of
executed blocks, to which tinykws.boardcode.m4cycles applies a Cortex-M4 timing model (Arm's cycles
per instruction class, a 2-cycle refill after a taken branch, zero flash wait states assumed): cycles
per layer, per inference (``native_cycles``) and per MFCC frame, and milliseconds at the Nano's 64 MHz.
The ESP32's path: the portable path built by tinykws.boardcode.xtensa for an Xtensa stand-in (Debian's
xtensa-lx106-elf-gcc with the ESP32 build's C flags, qemu-system-xtensa -M sim -cpu lx106: the ESP8266's
core, not the ESP32's LX6) on the same windows: lx106 instructions per layer (column "Xtensa") and per
inference (``esp32_instructions``), checked against tflite-micro (``esp32_bit_exact``); skipped with a note
when that compiler or emulator is missing.
The last line is one JSON object (``native_cycles``, ``bit_exact``, ``esp32_instructions``, ``stream_instructions_per_stride``,
``stream_bit_exact``; null for a model without one).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The Nano 33 BLE's real C flags (firmware/board_flags/nano33ble.txt), so the counts are the board's code.
from tinykws.boardcode.cross import board_flags  # noqa: E402

BOARD_FLAGS = board_flags("c")
SR = 16000


def test_audio(n: int, seed: int = 0) -> np.ndarray:
    """n one-second clips: tones, chirps and noise at several levels (int16)."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    clips = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            y = np.sin(2 * np.pi * rng.uniform(150, 3500) * t) * rng.uniform(0.05, 0.7)
        elif kind == 1:
            f0, f1 = rng.uniform(200, 3000, 2)
            env = np.sin(np.pi * np.clip((t - 0.25) / 0.5, 0, 1)) ** 2
            y = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / 2)) * env * rng.uniform(0.1, 0.8)
        else:
            y = rng.normal(0, rng.uniform(0.005, 0.2), SR)
        y = y + rng.normal(0, 0.003, SR)
        clips.append(np.clip(y * 32767, -32768, 32767).astype(np.int16))
    return np.stack(clips)


def windows_from_c_mfcc(audio: np.ndarray, scale: float, zero_point: int, spec) -> np.ndarray:
    from tinykws.boardcode.native import StreamingMfcc, quantize_window

    out = []
    for clip in audio:
        frames = StreamingMfcc(spec).push(clip)[-spec.n_frames :]
        out.append(quantize_window(frames, scale, zero_point, spec).reshape(-1))
    return np.stack(out).astype(np.int8)


def engine_sizes(elf: Path, header_symbols: set[str], kernel_symbols: set[str]) -> dict:
    from tinykws.boardcode.cross import elf_symbol_sizes

    sizes = elf_symbol_sizes(elf)
    flash = sum(sz for name, (kind, sz) in sizes.items()
                if kind in "TtRr" and (name in kernel_symbols or name.startswith("kws_net_") or name in header_symbols))
    ram = sum(sz for name, (kind, sz) in sizes.items() if kind in "BbDd" and name.startswith("kws_net_"))
    return {"flash_bytes": flash, "ram_bytes": ram, "arena_bytes": sizes.get("kws_net_arena", ("", 0))[1],
            "scratch_bytes": sizes.get("kws_net_scratch", ("", 0))[1]}


def kernel_symbol_names(flags: list[str]) -> set[str]:
    """Functions defined by the kws_nn sources (static helpers included)."""
    import subprocess

    from tinykws.boardcode.native_engine import nn_source_dir

    nn = nn_source_dir()
    names: set[str] = set()
    with tempfile.TemporaryDirectory() as d:
        for src in sorted((nn / "src").glob("*.c")):
            obj = Path(d) / (src.stem + ".o")
            subprocess.run(["arm-none-eabi-gcc", *flags, "-I", str(nn / "include"), "-c", str(src), "-o", str(obj)],
                           check=True, capture_output=True)
            p = subprocess.run(["arm-none-eabi-nm", str(obj)], capture_output=True, text=True, check=True)
            names |= {l.split()[-1] for l in p.stdout.splitlines() if len(l.split()) == 3 and l.split()[1] in "Tt"}
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", nargs="?", default=str(ROOT / "firmware" / "model"))
    ap.add_argument("--windows", type=int, default=24, help="windows to measure (at least 20)")
    ap.add_argument("--stride-ms", type=int, default=100, help="stride of the streaming measurement")
    ap.add_argument("--tflm", metavar="DIR", help="a local copy of the TFLM library of tinykws.boardcode.tflm_cross.TFLM_LIBRARY (Chirale_TensorFlowLite): "
                    "also measure TFLM + CMSIS-NN on the same windows")
    args = ap.parse_args(argv)

    from tinykws.export.carray import parse_c_array
    from tinykws.export.native import native_model_info, render_native_model
    from tinykws.io import sha256_bytes
    from tinykws.model.quantize import tflite_io_quantization
    from tinykws.spec import FeatureSpec
    from tinykws.boardcode.cross import build_engine_image, instructions_per_frame, run_engine_image, toolchain_missing
    from tinykws.boardcode.native_engine import TflmLayers

    missing = toolchain_missing()
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    if args.stride_ms <= 0 or args.stride_ms % 20:
        print(f"error: --stride-ms {args.stride_ms} must be a positive multiple of the 20 ms hop", file=sys.stderr)
        return 2
    model_dir = Path(args.model_dir)
    tflite = parse_c_array((model_dir / "kws_model.cc").read_text())
    meta = json.loads((model_dir / "model.json").read_text()) if (model_dir / "model.json").is_file() else {}
    header_path = model_dir / "kws_net_model.h"
    header = header_path.read_text() if header_path.is_file() else render_native_model(tflite, name=meta.get("name", "model"))
    if f'KWS_NET_MODEL_HASH "{sha256_bytes(tflite)}"' not in header:
        print(f"error: {header_path} was not generated from this kws_model.cc: re-export", file=sys.stderr)
        return 2
    info = native_model_info(tflite)
    spec = FeatureSpec()
    q = tflite_io_quantization(tflite)
    n = max(20, args.windows)
    windows = windows_from_c_mfcc(test_audio(n), q["input_scale"], q["input_zero_point"], spec)

    # The reference: TFLM's scores and every layer's output (as CRC-32, like the image prints).
    ref = TflmLayers(tflite)
    tensors = [l["tensor"] for l in info["layers"]]
    ref_scores, ref_crcs = [], []
    for x in windows:
        out, layers = ref.run(x, tensors)
        ref_scores.append(out.astype(np.int8))
        ref_crcs.append([zlib.crc32(layers[t].astype(np.int8).tobytes()) for t in tensors])
    ref_scores, ref_crcs = np.stack(ref_scores), np.array(ref_crcs, np.uint64)

    from tinykws.export.native import plan_native, stream_plan

    sp, why_not = stream_plan(plan_native(tflite))
    if sp is not None and "KWS_NET_STREAMABLE" not in header:
        print(f"note: {header_path} predates the streaming mode; measuring a fresh one (`tinykws export` writes it)",
              file=sys.stderr)
        header = render_native_model(tflite, name=meta.get("name", "model"))
    stream_windows = stream_ref = None
    if sp is not None:
        # One stream: the clips back to back through the C MFCC, a window every stride.
        from tinykws.boardcode.native import StreamingMfcc, quantize_window

        frames = StreamingMfcc(spec).push(test_audio(n).reshape(-1))
        step = args.stride_ms // spec.hop_ms
        ends = list(range(spec.n_frames, len(frames) + 1, step))[: n + 1]
        stream_windows = np.stack([quantize_window(frames[e - spec.n_frames : e], q["input_scale"], q["input_zero_point"],
                                                   spec).reshape(-1) for e in ends]).astype(np.int8)
        stream_ref = np.stack([ref.run(x, [])[0].astype(np.int8) for x in stream_windows])

    results = {}
    with tempfile.TemporaryDirectory() as d:
        for path in ("dsp", "portable"):
            elf = build_engine_image(header, windows, Path(d) / path, flags=BOARD_FLAGS, portable=path == "portable",
                                     stream_windows=stream_windows)
            r = run_engine_image(elf)
            r["exact"] = bool(np.array_equal(r["scores"], ref_scores) and np.array_equal(r["layer_crc32"], ref_crcs))
            if sp is not None:
                r["stream_exact"] = bool(np.array_equal(r["stream_scores"], stream_ref))
            r["sizes"] = engine_sizes(elf, set(), kernel_symbol_names(BOARD_FLAGS + (["-DKWS_NN_PORTABLE"] if path == "portable" else [])))
            results[path] = r
        # The ESP32's path (portable) on the Xtensa stand-in: lx106 on qemu-system-xtensa (tinykws.boardcode.xtensa).
        from tinykws.boardcode import xtensa

        xt_missing = xtensa.toolchain_missing()
        xt = None
        if xt_missing is None:
            xt = xtensa.run_engine_image(xtensa.build_engine_image(header, windows, Path(d) / "xtensa"))
            xt["exact"] = bool(np.array_equal(xt["scores"], ref_scores) and np.array_equal(xt["layer_crc32"], ref_crcs))
        from tinykws.boardcode.m4cycles import engine_cycles, mfcc_cycles

        cyc = engine_cycles(header, windows[:1], flags=BOARD_FLAGS,
                            stream_windows=stream_windows[:4] if stream_windows is not None else None)
        cyc["exact"] = bool(np.array_equal(cyc["scores"], ref_scores[0]))
    pcm = test_audio(2, seed=9).reshape(-1)
    mfcc = instructions_per_frame(pcm, spec, flags=BOARD_FLAGS)["instructions_per_frame"]
    mfcc_cyc = mfcc_cycles(pcm, spec=spec, flags=BOARD_FLAGS)

    dsp, port = results["dsp"], results["portable"]
    print(f"model {model_dir} sha256 {sha256_bytes(tflite)[:16]}..., {info['macs']:,} MACs, {n} windows, flags: "
          + " ".join(BOARD_FLAGS))
    print(f"{'layer':<6}{'op':<20}{'kernel':<11}{'MACs':>10}{'DSP instr':>12}{'instr/MAC':>10}{'cycles':>11}"
          f"{'cyc/MAC':>8}{'CPI':>6}{'portable':>12}{'ratio':>7}{'Xtensa':>12}")
    per_layer = []
    layer_cycles = cyc["layer_cycles"] if len(cyc["layer_cycles"]) == len(info["layers"]) else [0] * len(info["layers"])
    for i, l in enumerate(info["layers"]):
        di, pi = float(dsp["layer_instructions"][:, i].mean()), float(port["layer_instructions"][:, i].mean())
        ci, ni = layer_cycles[i], cyc["layer_instructions"][i] if layer_cycles[i] else 1
        ipm = f"{di / l['macs']:.2f}" if l["macs"] else "-"
        cpm = f"{ci / l['macs']:.2f}" if l["macs"] else "-"
        xi = float(xt["layer_instructions"][:, i].mean()) if xt else None
        print(f"{i:<6}{l['op']:<20}{l['kernel']:<11}{l['macs']:>10,}{di:>12,.0f}{ipm:>10}{ci:>11,}{cpm:>8}{ci / ni:>6.2f}"
              f"{pi:>12,.0f}{pi / di:>7.2f}" + (f"{xi:>12,.0f}" if xt else f"{'-':>12}"))
        per_layer.append({"op": l["op"], "kernel": l["kernel"], "macs": l["macs"], "instructions": round(di),
                          "cycles": ci, "portable_instructions": round(pi),
                          "esp32_instructions": round(xi) if xt else None})
    dt, pt = float(dsp["instructions"].mean()), float(port["instructions"].mean())
    ct = cyc["cycles"]
    print(f"{'total':<37}{info['macs']:>10,}{dt:>12,.0f}{dt / info['macs']:>10.2f}{ct:>11,}{ct / info['macs']:>8.2f}"
          f"{ct / cyc['instructions']:>6.2f}{pt:>12,.0f}{pt / dt:>7.2f}"
          + (f"{float(xt['instructions'].mean()):>12,.0f}" if xt else f"{'-':>12}"))
    if xt:
        xtt = float(xt["instructions"].mean())
        print(f"Xtensa: the portable path on the ESP32's stand-in ({xtensa.STANDIN}), flags "
              + " ".join(xtensa.ESP32_FLAGS) + f": {xtt:,.0f} instructions per inference, {xtt / pt:.3f} per Cortex-M4 "
              f"portable instruction; bit exact with tflite-micro on every window and layer: {xt['exact']}")
    else:
        print(f"Xtensa: not measured ({xt_missing})")
    print(f"cycles (Cortex-M4 timing model over QEMU's executed blocks, zero wait states assumed; "
          f"tinykws.boardcode.m4cycles): inference {ct:,} = {1000 * ct / 64e6:.1f} ms at 64 MHz "
          f"({ct / cyc['instructions']:.2f} cycles per instruction, the traced build's scores equal tflite-micro's: "
          f"{cyc['exact']}); MFCC {mfcc_cyc['cycles_per_frame']:,.0f} cycles per frame = "
          f"{1000 * mfcc_cyc['cycles_per_frame'] / 64e6:.2f} ms ({mfcc_cyc['cpi']:.2f} per instruction); "
          f"{args.stride_ms} ms stride: {1000 * (ct + args.stride_ms // spec.hop_ms * mfcc_cyc['cycles_per_frame']) / 64e6:.1f} ms "
          f"of features + inference; SMLAD floor (2 MACs per cycle) {info['macs'] // 2:,}, "
          f"{ct / (info['macs'] / 2):.2f}x it")
    s = dsp["sizes"]
    print(f"RAM {s['ram_bytes']:,} B (activations {s['arena_bytes']:,} + scratch {s['scratch_bytes']:,}; the generator says "
          f"{info['ram_bytes']:,}); flash {s['flash_bytes']:,} B (kernels + model data, DSP image); "
          f"MFCC {mfcc:,.0f} instructions per frame")
    bit_exact = dsp["exact"] and port["exact"] and cyc["exact"] and (xt is None or xt["exact"])
    print(f"bit exact with tflite-micro on every window and layer: DSP {dsp['exact']}, portable {port['exact']}")
    stream = {}
    if sp is not None:
        rows = dsp["stream_rows"][1:]
        si, sp_i = float(dsp["stream_instructions"][1:].mean()), float(port["stream_instructions"][1:].mean())
        stream = {"stride_ms": args.stride_ms, "rows": int(np.median(rows)), "dsp": round(si), "portable": round(sp_i),
                  "first_window": round(float(dsp["stream_instructions"][0])), "ram_bytes": sp.ram_bytes,
                  "exact": dsp["stream_exact"] and port["stream_exact"]}
        print(f"streaming mode, {args.stride_ms} ms stride ({stream['rows']} new rows of {sp.window_rows}, "
              f"{len(rows)} strides of one stream): {si:,.0f} instructions per stride on the DSP path "
              f"({dt / si:.2f}x fewer than the whole window's {dt:,.0f}), portable {sp_i:,.0f}; first window "
              f"{stream['first_window']:,}; MACs per stride {sp.macs_per_stride(stream['rows']):,}; RAM "
              f"{sp.ram_bytes:,} B (state {sp.state_bytes:,} + scratch {sp.scratch_bytes:,}; whole window "
              f"{info['ram_bytes']:,})")
        print(f"streaming scores equal tflite-micro's on every whole window of the stream: DSP {dsp['stream_exact']}, "
              f"portable {port['stream_exact']}")
    else:
        print(f"no streaming mode for this model: {why_not}")
    tflm = None
    if args.tflm:
        # TFLM + CMSIS-NN: firmware/test/qemu/tflm_engine.cpp, same windows, same flags, same emulator.
        from tinykws.boardcode.tflm_cross import measure_tflm

        tflm = measure_tflm(Path(args.tflm), model_dir, windows, log=lambda line: print(line, file=sys.stderr))
        tt = float(tflm["instructions"].mean())
        tflm["exact"] = bool(np.array_equal(tflm["scores"], ref_scores))
        tflm["same_as_native"] = bool(np.array_equal(tflm["scores"], dsp["scores"]))
        ts = tflm["sizes"]["tflm"]
        print(f"TFLM + CMSIS-NN ({args.tflm}): {tt:,.0f} instructions per inference (kws_engine_invoke: Invoke() and "
              f"the input/output copies), {tt / dt:.2f}x the native engine's {dt:,.0f}; setup "
              f"{tflm['begin_instructions']:,.0f}")
        print(f"TFLM arena used {tflm['arena_used_bytes']:,} B of {tflm['arena_reserved_bytes']:,} reserved; RAM "
              f"{tflm['ram_bytes']:,} B (arena used + interpreter, resolver and library statics); code "
              f"{tflm['code_bytes']:,} B (library .text {ts['text']:,} + .rodata {ts['rodata']:,}); flash "
              f"{tflm['flash_bytes']:,} B (library + engine glue + model flatbuffer {tflm['model_bytes']:,})")
        print(f"TFLM scores equal tflite-micro's on every window: {tflm['exact']}; equal the native engine's: "
              f"{tflm['same_as_native']}")
        if not tflm["exact"]:
            from tinykws.boardcode.tflm_cross import per_channel_fully_connected

            bad = int((tflm["scores"] != ref_scores).any(axis=1).sum())
            fc = per_channel_fully_connected(tflite)
            print(f"TFLM differs on {bad} of {n} windows" + (
                f"; operators {fc} are FULLY_CONNECTED with per-channel weights, which this TFLM computes with "
                "the first channel's scale for every output" if fc else ""))
    print(json.dumps({
        "model_sha256": sha256_bytes(tflite),
        "model_macs": info["macs"],
        "native_instructions": round(dt),
        "native_portable_instructions": round(pt),
        "native_cycles": ct,
        "native_cpi": round(ct / cyc["instructions"], 4),
        "mfcc_frame_cycles": round(mfcc_cyc["cycles_per_frame"]),
        "mfcc_cpi": round(mfcc_cyc["cpi"], 4),
        "stream_cycles_per_stride": round(float(np.mean(cyc["stream_cycles"][1:]))) if len(cyc.get("stream_cycles", [])) > 1 else None,
        "native_ram_bytes": s["ram_bytes"],
        "native_flash_bytes": s["flash_bytes"],
        "mfcc_frame_instructions": round(mfcc),
        "tflm_instructions": round(float(tflm["instructions"].mean())) if tflm else None,
        "tflm_ram_bytes": tflm["ram_bytes"] if tflm else None,
        "tflm_flash_bytes": tflm["flash_bytes"] if tflm else None,
        "tflm_arena_used_bytes": tflm["arena_used_bytes"] if tflm else None,
        "tflm_code_bytes": tflm["code_bytes"] if tflm else None,
        "tflm_exact": tflm["exact"] if tflm else None,
        "esp32_instructions": round(float(xt["instructions"].mean())) if xt else None,
        "esp32_bit_exact": xt["exact"] if xt else None,
        "per_layer": per_layer,
        "flags": BOARD_FLAGS,
        "bit_exact": bit_exact,
        "stream_stride_ms": stream.get("stride_ms"),
        "stream_rows_per_stride": stream.get("rows"),
        "stream_instructions_per_stride": stream.get("dsp"),
        "stream_portable_instructions_per_stride": stream.get("portable"),
        "stream_ram_bytes": stream.get("ram_bytes"),
        "stream_bit_exact": stream.get("exact"),
    }))
    return 0 if bit_exact and stream.get("exact", True) and (tflm is None or tflm["exact"]) else 1


if __name__ == "__main__":
    sys.exit(main())
