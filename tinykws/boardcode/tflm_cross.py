"""TensorFlow Lite Micro (with its CMSIS-NN kernels) built for a Cortex-M4 and run under QEMU (``mps2-an386``).

The comparison point of the native engine (``scripts/bench_inference.py --tflm DIR``): the same
windows through a TFLM engine (``firmware/test/qemu/tflm_engine.cpp``, the firmware's TFLM engine
before the firmware became native-only), compiled with the Nano's real flags
(:func:`tinykws.boardcode.cross.board_flags`) and counted in instructions under ``-icount shift=0``.

``DIR`` is a local copy of :data:`TFLM_LIBRARY` (the Arduino library Chirale_TensorFlowLite the
firmware's TFLM build used): its ``src/`` holds TFLM, CMSIS-NN, flatbuffers and the rest. No package
ships these sources, so nothing of it comes with tinykws and CI cannot build this. The library is compiled as the board compiles it (``-DARDUINO``, which
its headers test to select the CMSIS-NN kernels' Arduino variants), except the files that include
``Arduino.h`` (its serial logging and microsecond counter): ``firmware/test/qemu/tflm/`` stands in
for them. Compiling the library takes minutes, so its archive is cached under
``cache_dir("tflm_qemu", <hash of the tree's files, the flags and the compiler>)``, or under
``$TINYKWS_TFLM_CACHE/<hash>`` when that variable is set (the tests' cache lives one session only).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tinykws.paths import cache_dir, qemu_source_dir, source_project_dir
from tinykws.boardcode.cross import _windows_header, board_flags, qemu_link_flags, run_qemu

#: Defines the board's build gives the library that its sources test. The Arduino core's builder
#: defines ARDUINO=10810 (platform nordicnrf52, arduino-core-mbed); TFLM's headers then declare the
#: CMSIS-NN kernels' int8 registrations and drop the code that needs a heap. The library defines no
#: TF_LITE_STATIC_MEMORY and the board adds none, so neither does this build (it changes the size of
#: the TfLiteTensor structs the interpreter puts in the arena). CMSIS-NN takes its DSP (SMLAD) paths
#: from __ARM_FEATURE_DSP, which -mcpu=cortex-m4 defines (arm_nn_math_types.h sets ARM_MATH_DSP).
TFLM_DEFINES = ["-DARDUINO=10810"]

#: The TFLM library the comparator was measured with: Chirale_TensorFlowLite 2.0.0 (tag v2.0.0),
#: pinned by commit (a tag can be moved).
TFLM_LIBRARY = "https://github.com/spaziochirale/Chirale_TensorFlowLite.git#46da2f989205a9216229d38cd3d1c657d79d6781"

_ARDUINO_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]Arduino\.h[>"]', re.MULTILINE)


def tflm_source_dir(tree: Path) -> Path:
    """The folder holding ``tensorflow/lite/micro``: ``tree/src`` (an Arduino library) or ``tree`` itself."""
    tree = Path(tree)
    for d in (tree / "src", tree):
        if (d / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
            return d
    raise FileNotFoundError(f"{tree} is not a TFLM tree (no src/tensorflow/lite/micro/micro_interpreter.h)")


def tflm_sources(src: Path) -> list[Path]:
    """The library's C and C++ sources the QEMU build compiles: all but those that include ``Arduino.h``."""
    out = []
    for p in sorted(src.rglob("*")):
        if p.suffix in (".c", ".cc", ".cpp") and p.is_file():
            if not _ARDUINO_INCLUDE.search(p.read_text(errors="replace")):
                out.append(p)
    return out


def _compiler_version() -> str:
    return subprocess.run(["arm-none-eabi-gcc", "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]


def _flags(kind: str) -> list[str]:
    return [*board_flags(kind), *TFLM_DEFINES]


def tree_fingerprint(src: Path) -> str:
    """SHA-256 over every file of the tree (path and bytes), the compile flags and the compiler version."""
    h = hashlib.sha256()
    for p in sorted(src.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(src)).encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    h.update("\0".join(_flags("c") + ["|"] + _flags("cxx") + ["|", _compiler_version()]).encode())
    return h.hexdigest()


def _object_name(src: Path, path: Path) -> str:
    # Flattened relative path: kernels/conv.cpp and kernels/cmsis_nn/conv.cpp must not collide in the archive.
    return str(path.relative_to(src)).replace("/", "__").rsplit(".", 1)[0] + ".o"


def build_tflm_library(tree: Path, *, jobs: int | None = None, log=None) -> Path:
    """Compile the TFLM tree with the board's flags into ``libtflm.a`` (cached); returns its path.

    ``jobs``: parallel compiler processes (default: the CPU count). ``log``: a function given a line of
    progress (e.g. ``print``), or None.
    """
    src = tflm_source_dir(tree)
    key = tree_fingerprint(src)[:20]
    root = os.environ.get("TINYKWS_TFLM_CACHE")
    out = Path(root) / key if root else cache_dir("tflm_qemu", key)
    lib = out / "libtflm.a"
    if lib.is_file():
        return lib
    sources = tflm_sources(src)
    if log:
        log(f"compiling {len(sources)} TFLM sources from {src} into {out} (once per tree and flags)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=key + ".", dir=out.parent))
    try:
        (tmp / "obj").mkdir()

        def compile_one(path: Path) -> Path:
            obj = tmp / "obj" / _object_name(src, path)
            cc = ["arm-none-eabi-gcc", *_flags("c")] if path.suffix == ".c" else ["arm-none-eabi-g++", *_flags("cxx")]
            cmd = [*cc, "-I", str(src), "-c", str(path), "-o", str(obj)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"TFLM build failed:\n{' '.join(cmd)}\n{p.stderr[-3000:]}")
            return obj

        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            objs = list(pool.map(compile_one, sources))
        subprocess.run(["arm-none-eabi-ar", "rcs", str(tmp / "libtflm.a"), *map(str, objs)], check=True, capture_output=True)
        shutil.rmtree(tmp / "obj")
        (tmp / "SOURCE").write_text(f"{src}\n{len(sources)} sources\n" + " ".join(_flags("cxx")) + "\n")
        try:
            os.replace(tmp, out)
        except OSError:  # another process finished the same build first
            if not lib.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return lib


def build_tflm_image(tree: Path, model_dir: Path, windows: np.ndarray, out_dir: Path, *, jobs: int | None = None,
                     log=None) -> Path:
    """Link the TFLM bench image (``firmware/test/qemu/tflm_bench.cpp``) for ``model_dir``; returns the ELF.

    ``firmware/test/qemu/tflm_engine.cpp`` and the model folder's ``kws_model.cc`` with the board's C++
    flags, the start-up code with its C flags, the cached library, linked with the board's link flags
    for semihosting. A link map (``tflm_bench.map``) is written next to the ELF for :func:`tflm_sizes`.
    """
    src = tflm_source_dir(tree)
    lib = build_tflm_library(tree, jobs=jobs, log=log)
    fw = source_project_dir() / "firmware"
    qemu_dir = qemu_source_dir()
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "engine_windows.h").write_text(_windows_header(windows))
    inc = ["-I", str(qemu_dir / "tflm"), "-I", str(src), "-I", str(model_dir), "-I", str(fw / "app"), "-I", str(out_dir)]
    cxx = ["arm-none-eabi-g++", *_flags("cxx"), *inc]
    units = [(cxx, qemu_dir / "tflm_engine.cpp"), (cxx, qemu_dir / "tflm" / "tflm_platform.cpp"),
             (cxx, qemu_dir / "tflm_bench.cpp"), (["arm-none-eabi-g++", *board_flags("cxx"), "-I", str(model_dir)],
                                                  model_dir / "kws_model.cc"),
             (["arm-none-eabi-gcc", *board_flags("c")], qemu_dir / "startup.c")]
    objs = []
    for cc, path in units:
        obj = out_dir / (path.stem + ".o")
        cmd = [*cc, "-c", str(path), "-o", str(obj)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"cross build failed:\n{' '.join(cmd)}\n{p.stderr[-3000:]}")
        objs.append(str(obj))
    elf = out_dir / "tflm_bench.elf"
    cmd = ["arm-none-eabi-g++", *qemu_link_flags(), "-T", str(qemu_dir / "tflm" / "link.ld"), f"-Wl,-Map={out_dir / 'tflm_bench.map'}",
           *objs, str(lib), "-lm", "-o", str(elf)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"cross link failed:\n{' '.join(cmd)}\n{p.stderr[-3000:]}")
    return elf


def run_tflm_image(elf: Path, *, timeout_s: float = 600) -> dict:
    """Run a TFLM bench image under ``-icount shift=0``.

    Returns ``scores`` [n, labels] int8, ``instructions`` [n] per inference, ``begin_instructions``
    (kws_engine_begin: op registration and AllocateTensors), ``arena_used_bytes``
    (``arena_used_bytes()`` after allocation) and ``arena_reserved_bytes`` (KWS_MODEL_ARENA_BYTES).
    """
    out = run_qemu(elf, icount=True, timeout_s=timeout_s)
    if "END" not in out:
        raise RuntimeError(f"TFLM image did not finish: {out[-500:]}")
    res: dict = {}
    ticks, scores = [], []
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "ERR":
            raise RuntimeError(f"TFLM image: {line}")
        if parts[0] == "BEGIN":
            res["begin_ticks"], res["arena_used_bytes"], res["arena_reserved_bytes"] = map(int, parts[1:4])
        elif parts[0] == "W":
            ticks.append(int(parts[2]))
        elif parts[0] == "O":
            scores.append(np.frombuffer(bytes.fromhex(parts[2]), np.int8))
        elif parts[0] == "calibration_ticks":
            res["instructions_per_tick"] = 400000 / int(parts[1])
    k = res["instructions_per_tick"]
    res["begin_instructions"] = res.pop("begin_ticks") * k
    res["scores"] = np.stack(scores)
    res["instructions"] = np.array(ticks, np.float64) * k
    return res


_MAP_ENTRY = re.compile(r"^ (\.\S+|COMMON)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def tflm_sizes(map_file: Path) -> dict:
    """Bytes the link kept, by origin and kind, from the link map.

    Origins: ``tflm`` (the library archive), ``engine`` (tflm_engine.o: resolver, interpreter, arena),
    ``model`` (kws_model.o: the flatbuffer and labels), ``other`` (bench, start-up, C/C++ runtime).
    Kinds: ``text``, ``rodata``, ``data``, ``bss``. Returns ``{origin: {kind: bytes}}``.
    """
    lines = Path(map_file).read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("Linker script and memory map"))
    sizes = {o: {"text": 0, "rodata": 0, "data": 0, "bss": 0} for o in ("tflm", "engine", "model", "other")}
    pending = None
    for line in lines[start:]:
        if pending is not None and line.startswith("    "):
            line = " " + pending + " " + line.strip()  # a long section name sits alone on its line
        pending = None
        m = _MAP_ENTRY.match(line)
        if not m:
            if re.match(r"^ (\.\S+|COMMON)$", line):
                pending = line.strip()
            continue
        name, addr, size, origin = m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4)
        if size == 0 or addr == 0 and not name.startswith(".isr"):
            continue
        kind = ("text" if name.startswith(".text") else "rodata" if name.startswith(".rodata")
                else "data" if name.startswith(".data") else "bss" if name.startswith((".bss", "COMMON")) else None)
        if kind is None:
            continue
        who = ("tflm" if "libtflm.a(" in origin else "engine" if origin.endswith("tflm_engine.o")
               else "model" if origin.endswith("kws_model.o") else "other")
        sizes[who][kind] += size
    return sizes


def elf_symbol_size(elf: Path, suffix: str) -> int:
    """Size of the one symbol of ``elf`` whose (mangled) name ends with ``suffix``."""
    p = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].endswith(suffix):
            return int(parts[1], 16)
    raise KeyError(suffix)


def per_channel_fully_connected(tflite: bytes) -> list[int]:
    """Indexes of the model's FULLY_CONNECTED operators whose weights have one scale per output channel.

    The pinned TFLM (tflite-micro of 2023-01) quantizes FULLY_CONNECTED per tensor only: it takes the
    weights' first scale for every output, so such a layer's outputs differ from a newer interpreter's.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytes(tflite), 0))
    g = m.subgraphs[0]
    out = []
    for i, op in enumerate(g.operators):
        code = m.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.FULLY_CONNECTED:
            continue
        q = g.tensors[op.inputs[1]].quantization
        if q is not None and q.scale is not None and len(q.scale) > 1:
            out.append(i)
    return out


def measure_tflm(tree: Path, model_dir: Path, windows: np.ndarray, *, jobs: int | None = None, log=None) -> dict:
    """Build and run the TFLM image on ``windows``; outputs, instruction counts and sizes.

    Adds to :func:`run_tflm_image`'s result ``code_bytes`` (the library's .text + .rodata kept by the
    link), ``sizes`` (:func:`tflm_sizes`), ``flash_bytes`` (library and engine code, constants and
    initialised data, plus the model flatbuffer: what TFLM adds to flash) and ``ram_bytes`` (the
    arena used plus the library's and the engine's static data, the reserved arena left out).
    """
    with tempfile.TemporaryDirectory() as d:
        elf = build_tflm_image(tree, model_dir, windows, Path(d), jobs=jobs, log=log)
        res = run_tflm_image(elf)
        sizes = tflm_sizes(Path(d) / "tflm_bench.map")
        arena = elf_symbol_size(elf, "tensor_arenaE")
        model_bytes = elf_symbol_size(elf, "kws_model_data")
    t, e = sizes["tflm"], sizes["engine"]
    res["sizes"] = sizes
    res["code_bytes"] = t["text"] + t["rodata"]
    res["model_bytes"] = model_bytes
    res["flash_bytes"] = t["text"] + t["rodata"] + t["data"] + e["text"] + e["rodata"] + e["data"] + model_bytes
    res["ram_bytes"] = res["arena_used_bytes"] + t["data"] + t["bss"] + e["data"] + e["bss"] - arena
    return res
