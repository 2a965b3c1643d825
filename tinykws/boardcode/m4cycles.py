"""Cortex-M4 cycles of a QEMU run: a static timing model applied to the blocks QEMU executed.

QEMU counts instructions, not cycles. This module runs an image under ``qemu-system-arm -d
in_asm,exec,nochain``: QEMU then logs the instructions of each translation block once, when it
translates it (``in_asm``), and every execution of a block (``exec``; ``nochain`` keeps chained
blocks from skipping the log). Every instruction gets a cost by its class from Arm's Cortex-M4
timing (Cortex-M4 Technical Reference Manual, "Processor instruction timings" / instruction set
summary), and a block whose last instruction branched (the next block executed is not the one that
follows it in memory) pays the pipeline refill.

The model (:data:`TIMING`), per instruction:

- data processing, shifts, ``MUL``/``MLA``/``MLS``, the long multiplies, ``SMLAD``/``SMUAD`` and the
  other DSP multiplies, saturation, packing, ``SXTB16``, ``SEL``, single-precision ``VADD``/``VMUL``/
  ``VCVT``/``VMOV``: 1 cycle;
- a single load or store (``LDR``, ``STRB``, ``VLDR``, ...): 2 cycles, 1 when it directly follows
  another single load or store (their address and data phases pipeline);
- ``LDRD``/``STRD``: 3; ``LDM``/``STM``/``PUSH``/``POP`` and the VFP multiples: 1 + the number of
  32-bit registers moved;
- a taken branch, or any instruction that writes the PC: + P, the refill (1-3 cycles by the target's
  alignment and width; :data:`REFILL` = 2 is assumed); ``TBB``/``TBH`` one more;
- ``SDIV``/``UDIV``: 2-12 by the operands (:data:`DIVIDE` = 7 assumed); ``VMLA``/``VFMA`` and the
  other fused/chained float multiply-adds: 3; ``VDIV``/``VSQRT``: 14; ``IT``: 1 (the core may fold it
  into the previous instruction; counted).

Not modelled: flash wait states (every fetch and every read of the weights is taken to be served by
the nRF52840's cache, i.e. zero wait states), a load whose result is the next instruction's address
register (one more cycle), and interrupts. These make the figures a lower bound of what the board
spends, not an upper one; on an nRF52840 with its instruction cache switched on they are close.

Checked against hand counts in ``tests/boardcode/test_m4cycles.py`` (a loop of known instructions run
under QEMU) and used by ``scripts/bench_inference.py`` (``native_cycles``).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Pipeline refill after a taken branch (Arm: 1-3 cycles; 2 assumed).
REFILL = 2
#: Cycles of SDIV/UDIV (Arm: 2-12 by the operands; the middle assumed).
DIVIDE = 7

_COND = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"}
_BRANCH = {"b", "bl", "blx", "bx", "cbz", "cbnz"}
_TABLE_BRANCH = {"tbb", "tbh"}
_SINGLE = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrt", "ldrbt", "ldrht", "ldrsbt", "ldrsht", "ldrex", "ldrexb",
           "ldrexh", "str", "strb", "strh", "strt", "strbt", "strht", "strex", "strexb", "strexh", "vldr", "vstr", "pld"}
_DUAL = {"ldrd", "strd"}
_MULTI = {"ldm", "ldmia", "ldmfd", "ldmdb", "ldmea", "stm", "stmia", "stmea", "stmdb", "stmfd", "push", "pop",
          "vldm", "vldmia", "vldmdb", "vstm", "vstmia", "vstmdb", "vpush", "vpop"}
_DIV = {"sdiv", "udiv"}
_FMAC = {"vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"}
_FDIV = {"vdiv", "vsqrt"}
_KNOWN = _BRANCH | _TABLE_BRANCH | _SINGLE | _DUAL | _MULTI | _DIV | _FMAC | _FDIV

#: The classes and their base cycles, for people (the refill and pipelining are applied on top).
TIMING = {
    "alu, multiply, DSP multiply-accumulate, float add/multiply": 1,
    "single load/store (1 when it follows another)": 2,
    "LDRD/STRD": 3,
    "LDM/STM/PUSH/POP, VLDM/VSTM/VPUSH/VPOP": "1 + registers",
    "taken branch or PC write": f"+{REFILL} refill",
    "SDIV/UDIV": DIVIDE,
    "VMLA/VFMA family": 3,
    "VDIV/VSQRT": 14,
    "IT": 1,
}

_INSN = re.compile(r"^0x([0-9a-f]+):\s+([0-9a-f]{4})(?: ([0-9a-f]{4}))?\s+(\S+)\s*(.*)$")


def _base(mnemonic: str) -> tuple[str, bool]:
    """The mnemonic without width, flag-setting and condition suffixes, and whether it was conditional."""
    m = mnemonic.lower().split(".")[0]
    if m.startswith("it") and set(m[2:]) <= {"t", "e"}:
        return "it", False
    if m.startswith("v"):  # VFP: vadd.f32, vldr, vmov; conditions are rare in compiled code
        return (m[:-2], True) if m[-2:] in _COND and m[:-2] in _KNOWN else (m, False)
    if m in _KNOWN:
        return m, False
    if m[-2:] in _COND and m[:-2] in _KNOWN:  # bls is b + ls, not bl + s
        return m[:-2], True
    if m.endswith("s") and m[:-1] in _KNOWN:  # flag-setting forms cost the same
        return m[:-1], False
    return m, False


def _registers(operands: str) -> int:
    """32-bit registers in a register list such as ``{r4, r5, r6, lr}``, ``{r4-r7}`` or ``{d8-d15}``."""
    inner = operands[operands.find("{") + 1 : operands.rfind("}")]
    n = 0
    for part in inner.split(","):
        part = part.strip()
        if not part:
            continue
        words = 2 if part.startswith("d") else 1
        if "-" in part:
            a, b = part.split("-")
            n += (int(re.sub(r"\D", "", b)) - int(re.sub(r"\D", "", a)) + 1) * words
        else:
            n += words
    return max(n, 1)


def _writes_pc(base: str, operands: str) -> bool:
    ops = operands.lower().replace(" ", "")
    if base in _MULTI:
        return "pc" in ops[ops.find("{"):]
    if base in _SINGLE | _DUAL:
        return ops.startswith("pc,")
    return ops.startswith("pc,") and base not in ("cmp", "cmn", "tst", "teq")


@dataclass
class Block:
    """One translation block: its static cost, how many instructions, and where it falls through to."""

    cycles: int
    instructions: int
    fallthrough: int
    branches: bool  # its last instruction is a branch or writes the PC


def block_of(insns: list[tuple[int, int, str, str]]) -> Block:
    """The cost of a block of ``(address, size, mnemonic, operands)`` run start to end."""
    cycles = 0
    prev_single = False
    branches = False
    for i, (_, _, mn, ops) in enumerate(insns):
        base, _ = _base(mn)
        if base in _SINGLE:
            c = 1 if prev_single else 2
        elif base in _DUAL:
            c = 3
        elif base in _MULTI:
            c = 1 + _registers(ops)
        elif base in _DIV:
            c = DIVIDE
        elif base in _FMAC:
            c = 3
        elif base in _FDIV:
            c = 14
        elif base in _TABLE_BRANCH:
            c = 2
        else:
            c = 1
        prev_single = base in _SINGLE
        cycles += c
        if i == len(insns) - 1:
            branches = base in _BRANCH | _TABLE_BRANCH or _writes_pc(base, ops)
    addr, size = insns[-1][0], insns[-1][1]
    return Block(cycles, len(insns), addr + size, branches)


@dataclass
class Segment:
    """Cycles and instructions between two markers."""

    cycles: int = 0
    instructions: int = 0


@dataclass
class Trace:
    """What :func:`parse_log` found.

    ``cycles``/``instructions``: the whole run. ``calls``: for each stretch from a ``begin`` marker,
    the segments it was cut into by ``mark`` markers (an engine call's layers).
    """

    cycles: int = 0
    instructions: int = 0
    calls: list[list[Segment]] = field(default_factory=list)

    @property
    def cpi(self) -> float:
        return self.cycles / max(self.instructions, 1)


def parse_log(lines, *, begin: int | None = None, mark: int | None = None) -> Trace:
    """Apply the timing model to a ``-d in_asm,exec,nochain`` log (an iterable of lines).

    ``begin``/``mark``: addresses of marker functions; the block that starts at ``begin`` opens a new
    call, each block that starts at ``mark`` closes the call's current segment.
    """
    blocks: dict[int, Block] = {}
    pending: list[tuple[int, int, str, str]] = []
    t = Trace()
    prev: Block | None = None
    seg: Segment | None = None
    for line in lines:
        if line.startswith("0x"):
            m = _INSN.match(line)
            if m:
                size = 4 if m.group(3) else 2
                pending.append((int(m.group(1), 16), size, m.group(4), m.group(5)))
            continue
        if line.startswith("Trace "):
            if pending:
                blocks[pending[0][0]] = block_of(pending)
                pending = []
            pc = int(line.split("[", 1)[1].split("/")[1], 16)
            if prev is not None:
                c = prev.cycles + (REFILL if prev.branches and pc != prev.fallthrough else 0)
                t.cycles += c
                t.instructions += prev.instructions
                if seg is not None:
                    seg.cycles += c
                    seg.instructions += prev.instructions
            if pc == begin:
                t.calls.append([])
                seg = Segment()
            elif pc == mark and seg is not None:
                t.calls[-1].append(seg)
                seg = Segment()
            prev = blocks.get(pc)
            if prev is None:
                raise RuntimeError(f"QEMU executed a block at 0x{pc:x} it never logged")
            continue
        if line.startswith("IN:") and pending:
            blocks[pending[0][0]] = block_of(pending)
            pending = []
    if prev is not None:
        t.cycles += prev.cycles
        t.instructions += prev.instructions
    return t


def symbol_address(elf: Path, name: str) -> int | None:
    """The address of function ``name`` in ``elf`` (Thumb bit cleared), or None."""
    p = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & ~1
    return None


def trace_elf(elf: Path, *, timeout_s: float = 600) -> tuple[Trace, str]:
    """Run ``elf`` on ``mps2-an386`` with the block log on; its :class:`Trace` and its semihosting output.

    Markers ``kws_cycle_begin`` / ``kws_cycle_mark`` are used where the image has them.
    """
    begin, mark = symbol_address(elf, "kws_cycle_begin"), symbol_address(elf, "kws_cycle_mark")
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "exec.log"
        cmd = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
               "-semihosting-config", "enable=on,target=native", "-d", "in_asm,exec,nochain", "-D", str(log),
               "-kernel", str(elf)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        if p.returncode != 0:
            raise RuntimeError(f"qemu exited with {p.returncode}: {p.stderr[-500:]}")
        with open(log, errors="replace") as f:
            trace = parse_log(f, begin=begin, mark=mark)
    return trace, p.stdout


def engine_cycles(header: str, windows: np.ndarray, *, flags: list[str], stream_windows: np.ndarray | None = None,
                  timeout_s: float = 600) -> dict:
    """Modelled cycles of the native engine's DSP path on ``windows[0]`` (and each stream window).

    Builds the engine image with ``-DKWS_CYCLE_TRACE`` (markers around each call and after each
    layer) and ``flags`` (the board's), runs it once with QEMU's block log, and returns
    ``cycles``, ``instructions`` (of the first whole-window call), ``layer_cycles``,
    ``layer_instructions``, ``scores`` (its int8 output, to check against the reference) and, with
    ``stream_windows``, ``stream_cycles``/``stream_instructions`` per stream call.
    """
    from tinykws.boardcode.cross import build_engine_image

    w = np.asarray(windows, np.int8)[:1]
    with tempfile.TemporaryDirectory() as d:
        elf = build_engine_image(header, w, Path(d), flags=flags, stream_windows=stream_windows,
                                 defines=("KWS_CYCLE_TRACE",))
        trace, out = trace_elf(elf, timeout_s=timeout_s)
    if "END" not in out or not trace.calls:
        raise RuntimeError(f"cycle image did not finish: {out[-300:]}")
    first = trace.calls[0]
    layers = first[:-1] if len(first) > 1 else first  # the last segment: after the last layer to the call's end
    res = {
        "cycles": sum(s.cycles for s in first),
        "instructions": sum(s.instructions for s in first),
        "layer_cycles": [s.cycles for s in layers],
        "layer_instructions": [s.instructions for s in layers],
        "run_cpi": trace.cpi,
    }
    for line in out.splitlines():
        if line.startswith("O 0 "):
            res["scores"] = np.frombuffer(bytes.fromhex(line.split()[2]), np.int8)
    rest = trace.calls[1:]
    if rest:
        res["stream_cycles"] = [sum(s.cycles for s in c) for c in rest]
        res["stream_instructions"] = [sum(s.instructions for s in c) for c in rest]
    return res


def mfcc_cycles(pcm: np.ndarray, *, spec=None, flags: list[str] | None = None) -> dict:
    """Modelled cycles of the C MFCC on ``pcm`` (the self-test's bench image, markers round its frame loop).

    Returns ``frames``, ``cycles_per_frame``, ``instructions_per_frame`` and ``cpi``.
    """
    from tinykws.boardcode.cross import build_selftest

    with tempfile.TemporaryDirectory() as d:
        elf = build_selftest(pcm, Path(d), spec=spec, bench=True, flags=flags)
        trace, out = trace_elf(elf)
    frames = [int(l.split()[1]) for l in out.splitlines() if l.startswith("frames ")]
    if not frames or not trace.calls or not trace.calls[0]:
        raise RuntimeError(f"MFCC cycle image did not finish: {out[-300:]}")
    seg = trace.calls[0][0]
    return {"frames": frames[0], "cycles_per_frame": seg.cycles / frames[0],
            "instructions_per_frame": seg.instructions / frames[0], "cpi": seg.cycles / max(seg.instructions, 1)}
