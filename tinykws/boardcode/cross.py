"""Build the portable core for a Cortex-M4F and run it under QEMU (``mps2-an386``).

Used by the test suite (MFCC frames on the emulated board equal the host's) and
``scripts/bench_firmware.py`` (instructions per MFCC frame). Needs Debian's
``gcc-arm-none-eabi``, ``libnewlib-arm-none-eabi`` and ``qemu-system-arm``;
:func:`toolchain_missing` says what is absent.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinykws.paths import core_source_dir, qemu_source_dir
from tinykws.spec import FeatureSpec



def board_flags(kind: str = "c", board: str = "nano33ble") -> list[str]:
    """The flags the real PlatformIO build uses for ``board`` (``firmware/board_flags/<board>.txt``).

    ``kind`` is ``"c"``, ``"cxx"`` or ``"ld"``.
    """
    from tinykws.paths import board_flags_file

    for line in board_flags_file(board).read_text().splitlines():
        key, _, value = line.partition(":")
        if not line.startswith("#") and key.strip() == kind:
            return value.split()
    raise ValueError(f"no {kind!r} flags in {board_flags_file(board)}")


def qemu_link_flags(board: str = "nano33ble") -> list[str]:
    """The board's link flags with semihosting (printf to the host) instead of nosys, no start files."""
    ld = [f for f in board_flags("ld", board) if f != "--specs=nosys.specs"]
    return [*ld, "--specs=rdimon.specs", "-nostartfiles"]


#: Compile + link flags of the QEMU images: the Nano's real build flags (C), linked for semihosting.
ARM_FLAGS = [*board_flags("c"), *qemu_link_flags()]


def toolchain_missing() -> str | None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            return f"{tool} not found (Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
    return None


def _audio_header(pcm: np.ndarray) -> str:
    rows = [", ".join(str(int(v)) for v in pcm[i : i + 16]) for i in range(0, len(pcm), 16)]
    return ("/* Generated for the QEMU self-test; not committed. */\n#include <stdint.h>\n"
            f"#define SELFTEST_AUDIO_LEN {len(pcm)}u\nstatic const int16_t selftest_audio[SELFTEST_AUDIO_LEN] = {{\n"
            + ",\n".join(rows) + "\n};\n")


def build_selftest(pcm: np.ndarray, out_dir: Path, *, spec: FeatureSpec | None = None, bench: bool = False,
                   flags: list[str] | None = None) -> Path:
    """Cross-compile the self-test image with ``pcm`` embedded; returns the ELF path.

    ``flags``: compiler flags to use instead of :data:`ARM_FLAGS` (e.g. a board's), linked for QEMU.
    """
    from tinykws.export.spec_header import render_spec_header

    core = core_source_dir()
    qemu_dir = qemu_source_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "selftest_audio.h").write_text(_audio_header(np.asarray(pcm, np.int16)))
    inc = out_dir / "include"
    inc.mkdir(exist_ok=True)
    for h in (core / "include").glob("*.h"):
        shutil.copy(h, inc / h.name)
    (inc / "kws_feature_spec.h").write_text(render_spec_header(spec or FeatureSpec()))
    elf = out_dir / ("bench.elf" if bench else "selftest.elf")
    cc_flags = ARM_FLAGS if flags is None else [*flags, "-std=c99", *QEMU_LINK_FLAGS]
    cmd = ["arm-none-eabi-gcc", *cc_flags, *(["-DKWS_SELFTEST_BENCH"] if bench else []), "-I", str(inc), "-I", str(out_dir),
           "-T", str(qemu_dir / "link.ld"), str(qemu_dir / "startup.c"), str(qemu_dir / "selftest.c"),
           *[str(p) for p in sorted((core / "src").glob("*.c"))], "-lm", "-o", str(elf)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"cross build failed:\n{' '.join(cmd)}\n{p.stderr}")
    return elf


def run_qemu(elf: Path, *, icount: bool = False, timeout_s: float = 300) -> str:
    cmd = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", *(["-icount", "shift=0"] if icount else []), "-kernel", str(elf)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if p.returncode != 0:
        raise RuntimeError(f"qemu exited with {p.returncode}: {p.stderr[-500:]}")
    return p.stdout


def mfcc_on_qemu(pcm: np.ndarray, spec: FeatureSpec | None = None) -> np.ndarray:
    """MFCC frames of ``pcm`` computed by the core on the emulated Cortex-M4F."""
    with tempfile.TemporaryDirectory() as d:
        out = run_qemu(build_selftest(pcm, Path(d), spec=spec))
    rows = [l.split()[1:] for l in out.splitlines() if l.startswith("F ")]
    if "END" not in out:
        raise RuntimeError(f"self-test did not finish: {out[-300:]}")
    bits = np.array([[int(v, 16) for v in r] for r in rows], dtype=np.uint32)
    return bits.view(np.float32).reshape(len(rows), -1)


def instructions_per_frame(pcm: np.ndarray, spec: FeatureSpec | None = None, flags: list[str] | None = None) -> dict:
    """QEMU ``-icount`` instruction count per MFCC frame (SysTick, calibrated against a known loop)."""
    with tempfile.TemporaryDirectory() as d:
        out = run_qemu(build_selftest(pcm, Path(d), spec=spec, bench=True, flags=flags), icount=True)
    vals = {}
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["calibration_ticks"]:
            vals["cal_ticks"], vals["cal_insns"] = int(parts[1]), int(parts[3])
        elif parts[:1] == ["frames"]:
            vals["frames"], vals["ticks"] = int(parts[1]), int(parts[3])
    insn_per_tick = vals["cal_insns"] / vals["cal_ticks"]
    per_frame = vals["ticks"] * insn_per_tick / vals["frames"]
    return {"frames": vals["frames"], "instructions_per_tick": insn_per_tick, "instructions_per_frame": per_frame}


# --- the native inference engine on the emulated Cortex-M4 -----------------------------------

#: Linking for QEMU: semihosting newlib, our own start-up, unused sections dropped.
QEMU_LINK_FLAGS = ["--specs=rdimon.specs", "-nostartfiles", "-Wl,--gc-sections"]


def _int8_rows(name: str, count: str, windows: np.ndarray) -> str:
    w = np.asarray(windows, np.int8)
    rows = ["    {" + ", ".join(str(int(v)) for v in x) + "}," for x in w]
    return (f"#define {count} {len(w)}u\n"
            f"static const int8_t {name}[{max(len(w), 1)}][{w.shape[1]}] __attribute__((unused)) = {{\n" + "\n".join(rows or ["    {0}"]) + "\n};\n")


def _windows_header(windows: np.ndarray, stream_windows: np.ndarray | None = None) -> str:
    w = np.asarray(windows, np.int8).reshape(len(windows), -1)
    s = w[:0] if stream_windows is None else np.asarray(stream_windows, np.int8).reshape(len(stream_windows), -1)
    return ("/* Generated for the QEMU engine image; not committed. */\n#include <stdint.h>\n"
            + _int8_rows("engine_windows", "ENGINE_WINDOWS", w) + _int8_rows("stream_windows", "STREAM_WINDOWS", s))


def build_engine_image(header: str, windows: np.ndarray, out_dir: Path, *, flags: list[str], portable: bool = False,
                       stream_windows: np.ndarray | None = None, defines: tuple[str, ...] = ()) -> Path:
    """Cross-compile the engine image (kws_nn + ``header`` as kws_net_model.h + ``windows``); returns the ELF.

    ``flags`` are the compiler flags of the board build (e.g. the Nano's ``-mcpu=cortex-m4 ... -Os``);
    ``portable`` adds ``-DKWS_NN_PORTABLE`` (the plain C kernels instead of the DSP ones).
    ``stream_windows``: consecutive windows of one stream, which a model with a streaming mode also
    runs through ``kws_net_stream_window`` in order (the image's ``S`` lines).
    ``defines``: extra ``-D`` flags (e.g. ``-DKWS_CYCLE_TRACE`` for :mod:`tinykws.boardcode.m4cycles`).
    """
    from tinykws.boardcode.native_engine import nn_source_dir

    nn = nn_source_dir()
    qemu_dir = qemu_source_dir()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "kws_net_model.h").write_text(header)
    (out_dir / "engine_windows.h").write_text(_windows_header(windows, stream_windows))
    elf = out_dir / ("engine_portable.elf" if portable else "engine_dsp.elf")
    cmd = ["arm-none-eabi-gcc", *flags, "-Wall", "-Wextra", "-Werror", *(["-DKWS_NN_PORTABLE"] if portable else []),
           *[f"-D{d}" for d in defines], *QEMU_LINK_FLAGS,
           "-I", str(nn / "include"), "-I", str(nn / "src"), "-I", str(out_dir), "-T", str(qemu_dir / "link.ld"),
           str(qemu_dir / "startup.c"), str(qemu_dir / "engine_bench.c"), *[str(p) for p in sorted((nn / "src").glob("*.c"))],
           "-o", str(elf)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"cross build failed:\n{' '.join(cmd)}\n{p.stderr}")
    return elf


def run_engine_image(elf: Path, *, timeout_s: float = 600) -> dict:
    """Run an engine image under ``-icount shift=0``; its outputs and instruction counts.

    Returns ``dsp`` (the path it was built with), ``weights_crc32``, ``scores`` [n, labels] int8,
    ``layer_crc32`` [n, layers], ``instructions`` [n] per call and ``layer_instructions`` [n, layers];
    with a streaming mode also ``stream_scores`` [m, labels], ``stream_rows`` [m] (rows computed per
    call) and ``stream_instructions`` [m].
    """
    return parse_engine_output(run_qemu(elf, icount=True, timeout_s=timeout_s))


def parse_engine_output(out: str, instructions_per_tick: float | None = None) -> dict:
    """The results of ``engine_bench.c``'s lines (see :func:`run_engine_image`).

    ``instructions_per_tick``: the tick's worth in instructions; by default the image's own
    calibration line (a loop of 400,000 instructions).
    """
    if "END" not in out:
        raise RuntimeError(f"engine image did not finish: {out[-300:]}")
    ticks, layer_ticks, scores, crcs = [], [], [], []
    res: dict = {}
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "dsp":
            res["dsp"], res["weights_crc32"] = bool(int(parts[1])), int(parts[3], 16)
        elif parts[0] == "W":
            ticks.append(int(parts[2]))
            layer_ticks.append([int(v) for v in parts[3:]])
        elif parts[0] == "O":
            scores.append(np.frombuffer(bytes.fromhex(parts[2]), np.int8))
        elif parts[0] == "L":
            crcs.append([int(v, 16) for v in parts[2:]])
        elif parts[0] == "S":
            res.setdefault("_s", []).append((int(parts[2]), int(parts[3]), np.frombuffer(bytes.fromhex(parts[4]), np.int8)))
        elif parts[0] == "calibration_ticks":
            res["instructions_per_tick"] = 400000 / int(parts[1])
    if instructions_per_tick is not None:
        res["instructions_per_tick"] = instructions_per_tick
    k = res["instructions_per_tick"]
    res["scores"] = np.stack(scores)
    res["layer_crc32"] = np.array(crcs, np.uint64)
    res["instructions"] = np.array(ticks, np.float64) * k
    res["layer_instructions"] = np.array(layer_ticks, np.float64) * k
    s = res.pop("_s", [])
    if s:
        res["stream_instructions"] = np.array([t for t, _, _ in s], np.float64) * k
        res["stream_rows"] = np.array([r for _, r, _ in s], np.int64)
        res["stream_scores"] = np.stack([o for _, _, o in s])
    return res


def elf_symbol_sizes(elf: Path) -> dict[str, tuple[str, int]]:
    """``{symbol: (section type letter, size in bytes)}`` from ``arm-none-eabi-nm``."""
    p = subprocess.run(["arm-none-eabi-nm", "-S", "--size-sort", str(elf)], capture_output=True, text=True, check=True)
    sizes = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = (parts[2], int(parts[1], 16))
    return sizes


# --- the whole application loop on the emulated Cortex-M4 ---------------------------------------


def build_app_image(pcm: np.ndarray, model_dir: Path, out_dir: Path, *, clock_hz: int | None = None,
                    cycles_per_instruction: float = 1.0, ring_samples: int = 8191) -> Path:
    """Cross-compile the whole-core image (``firmware/test/qemu/app_selftest.c``) for ``model_dir``.

    The board's C sources as they are: the core, the native engine and its kernels, the app's
    configuration from the model folder, all with the Nano's real C flags; ``kws_model.cc`` (labels)
    with its C++ flags. ``pcm`` (int16) is the microphone. Returns the ELF path.

    ``clock_hz``: the real-time variant (run it with ``-icount``): the image's clock is its own executed
    instructions x ``cycles_per_instruction`` at ``clock_hz``, and audio arrives by that clock into a
    ring of ``ring_samples``.
    """
    from tinykws.paths import source_project_dir

    fw = source_project_dir() / "firmware"
    core, nn, app, qemu_dir = fw / "lib" / "kws_core", fw / "lib" / "kws_nn", fw / "app", qemu_source_dir()
    model_dir = Path(model_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "selftest_audio.h").write_text(_audio_header(np.asarray(pcm, np.int16)))
    inc = ["-I", str(out_dir), "-I", str(model_dir), "-I", str(core / "include"), "-I", str(nn / "include"),
           "-I", str(nn / "src"), "-I", str(app)]
    labels_obj = out_dir / "kws_model.o"
    cmds = [["arm-none-eabi-g++", *board_flags("cxx"), *inc, "-c", str(model_dir / "kws_model.cc"), "-o", str(labels_obj)]]
    elf = out_dir / "app_selftest.elf"
    sources = [qemu_dir / "startup.c", qemu_dir / "app_selftest.c", app / "native_engine.c", app / "kws_app_config.c",
               *sorted((core / "src").glob("*.c")), *sorted((nn / "src").glob("*.c"))]
    clock = [] if clock_hz is None else [f"-DKWS_SELFTEST_CLOCK_HZ={int(clock_hz)}u",
                                         f"-DKWS_SELFTEST_CPI_X100={round(100 * cycles_per_instruction)}u",
                                         f"-DKWS_SELFTEST_RING={int(ring_samples)}u", "-I", str(qemu_dir)]
    cmds.append(["arm-none-eabi-gcc", *board_flags("c"), *qemu_link_flags(), '-DKWS_FW_VERSION="selftest"', *clock, *inc,
                 "-T", str(qemu_dir / "link.ld"), *[str(s) for s in sources], str(labels_obj), "-lm", "-o", str(elf)])
    for cmd in cmds:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"cross build failed:\n{' '.join(cmd)}\n{p.stderr}")
    return elf


def run_app_on_qemu(pcm: np.ndarray, model_dir: Path, *, timeout_s: float = 600, clock_hz: int | None = None,
                    cycles_per_instruction: float = 1.0, ring_samples: int = 8191) -> list[str]:
    """The protocol lines the firmware's application loop writes for ``pcm`` on the emulated Cortex-M4F.

    With ``clock_hz``, in real time by the core's own executed cycles (:func:`build_app_image`).
    """
    with tempfile.TemporaryDirectory() as d:
        elf = build_app_image(pcm, model_dir, Path(d), clock_hz=clock_hz, cycles_per_instruction=cycles_per_instruction,
                              ring_samples=ring_samples)
        out = run_qemu(elf, icount=clock_hz is not None, timeout_s=timeout_s)
    lines = out.splitlines()
    if "END" not in lines:
        raise RuntimeError(f"whole-core image did not finish: {out[-300:]}")
    return lines[: lines.index("END")]
