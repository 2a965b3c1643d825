"""Per-board budgets and CPU models: the one place that says what fits where, and how fast it runs.

Contract: a model fits a board, for the firmware's inference engine (the native int8 engine, the
only one the firmware builds), when

- the engine's generated weights fit the flash left for the application after the firmware's own
  code and the engine's code (:data:`ENGINE_CODE_BYTES`);
- the engine's own RAM (activations and scratch) fits the static RAM left after the firmware's own
  buffers (audio ring, MFCC and window state, serial buffers, stacks, heap);
- every TFLite builtin op it uses is one the firmware can register (:data:`SUPPORTED_OPS`, the keys
  of :data:`tinykws.export.carray.RESOLVER_METHODS`, which also generates ``KWS_MODEL_OPS``).

Flash and RAM totals are what PlatformIO's board files give the linker (``upload.maximum_size`` and
``upload.maximum_ram_size``). The reserves are deliberately generous estimates of the firmware
without a model; measure a real build (``pio run -e ENV`` prints its size) to tighten them.
``tinykws export --board`` and ``tinykws flash`` call :func:`ensure_fits` before writing anything,
so a model that cannot work is refused on the laptop instead of failing on the board.

Each board also has a :class:`CpuModel`: how many of its clock cycles one Cortex-M4 instruction
(as counted on QEMU by ``scripts/bench_inference.py``) costs there: on the Nano, cycles per instruction
measured by the Cortex-M4 timing model over QEMU's trace (:mod:`tinykws.boardcode.m4cycles`). :mod:`tinykws.export.latency`
turns instruction counts into milliseconds with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinykws.errors import UserError
from tinykws.export.carray import RESOLVER_METHODS

#: TFLite builtin op names (e.g. ``"CONV_2D"``) the firmware's resolver can register.
SUPPORTED_OPS: frozenset[str] = frozenset(RESOLVER_METHODS)

#: The inference engines the firmware can be built with: its own generated int8 code only. TFLM is
#: the host reference (:mod:`tinykws.boardcode.tflm`), not a firmware engine.
ENGINES: tuple[str, ...] = ("native",)

#: Flash each engine's code takes besides the model, in bytes.
ENGINE_CODE_BYTES: dict[str, int] = {
    # The kws_nn kernels (conv, 1x1, depthwise, pool, fully connected, softmax; portable and DSP
    # paths) plus the generated calls; an estimate until a build measures it.
    "native": 16 * 1024,
}

# ESP32 memory facts the budget below is built from.
#: Static DRAM (.data + .bss) the Arduino-ESP32 2.0.x build may link: its prebuilt ESP-IDF 4.4
#: linker script tools/sdk/esp32/ld/memory.ld gives ``dram0_0_seg`` org 0x3FFB0000 + 0xdb5c (the
#: Bluetooth controller's reserve), len 0x2c200 - 0xdb5c. ESP-IDF's own script
#: (components/esp_system/ld/esp32/memory.ld.in) has DRAM0_0_SEG_LEN 0x2c200, noting that static
#: ROM data at the 176 KB mark keeps the rest of DRAM out of static use, and the ESP-IDF "Memory
#: Types" guide (api-guides/memory-types, ESP32) states static DRAM is limited to about 160 KB, the
#: other 160 KB of the 320 KB of DRAM being usable only as heap at run time.
ESP32_STATIC_DRAM_BYTES = 0x2C200 - 0xDB5C  # 124,580


@dataclass(frozen=True)
class CpuModel:
    """How long a Cortex-M4 instruction count takes on a board.

    Attributes
    ----------
    core : str
        The CPU, for people.
    clock_hz : int
        Core clock the firmware runs at.
    cycles_per_instruction : float
        Core cycles per Cortex-M4 instruction of the benchmark's count.
    nn_path : str
        Which of the int8 engine's code paths the board compiles: ``"dsp"`` (the Cortex-M4's SIMD
        multiply-accumulate, SMLAD) or ``"portable"`` (plain C, for cores without it).
    nn_instruction_factor : float
        The board's own instructions per Cortex-M4 instruction of that path's count (1 on an M4).
    nn_cycles_per_instruction : float or None
        Cycles per instruction of the kernels on the board's core (default: ``cycles_per_instruction``).
    basis : str
        Where the figures come from, in one line.
    """

    core: str
    clock_hz: int
    cycles_per_instruction: float
    nn_instruction_factor: float = 1.0
    basis: str = ""
    nn_path: str = "dsp"
    nn_cycles_per_instruction: float | None = None

    def ms(self, instructions: float, *, nn: bool = False) -> float:
        """Milliseconds ``instructions`` (Cortex-M4, as counted) take on this CPU."""
        if nn:
            cpi = self.nn_cycles_per_instruction or self.cycles_per_instruction
            return 1000.0 * instructions * self.nn_instruction_factor * cpi / self.clock_hz
        return 1000.0 * instructions * self.cycles_per_instruction / self.clock_hz


# Cortex-M4 cycles per instruction, measured, not guessed: `python scripts/bench_inference.py` applies a
# Cortex-M4 timing model (tinykws.boardcode.m4cycles: Arm's cycles per instruction class, loads 2 or 1
# when pipelined, LDM 1+N, a 2-cycle refill after each taken branch) to QEMU's log of the blocks the
# real binary executed, built with the Nano's flags. The shipped DS-CNN-S on the engine's DSP path:
# 3,719,103 cycles for 3,113,942 instructions (1.19; the 1x1 convolutions' 2 x 4 blocks of pipelined
# single loads + SMLAD are 1.18, the fused depthwise layers 1.23, the first convolution 1.19); the C MFCC:
# 82,165 cycles per frame for 55,861 instructions (1.47).
# Assumed: zero flash wait states, i.e. the nRF52840's instruction cache (NVMC ICACHECNF) is on and
# hits; a miss costs more, so these are lower bounds. tests/boardcode/test_m4cycles.py checks the
# constants against a fresh trace of the shipped model.
NANO_NN_CPI = 1.19
NANO_MFCC_CPI = 1.47

# The ESP32's Xtensa LX6 runs no Cortex-M4 code, and no ESP32 compiler is available here, so its
# features are an estimate from published ratios: CoreMark/MHz of one LX6 core is about 2.07
# (497.8 CoreMark at 240 MHz, -O3, ESP-IDF; EEMBC lists 4.13/MHz for both cores) against the M4's
# 3.40, so one M4 instruction's work of the MFCC takes about 1.47 * 3.40 / 2.07 = 2.41 LX6 cycles.
ESP32_CPI = round(NANO_MFCC_CPI * 3.40 / 2.07, 2)

# The int8 engine on the ESP32 is its portable path (no SMLAD on the LX6): 8.03 M Cortex-M4
# instructions per inference of the shipped DS-CNN-S (scripts/bench_inference.py; 2.58 times the
# Nano's DSP path). The same C built with the ESP32 build's C flags for an Xtensa core and run on
# QEMU (tinykws.boardcode.xtensa: Debian's gcc-xtensa-lx106 and qemu-system-xtensa -M sim -cpu
# lx106, the ESP8266's core standing in for the ESP32's LX6: no register windows, no MULSH, no
# zero-overhead loops) took 11,500,884 instructions (12,225,273 before the first conv took the
# 2 x 4 block, the 3x3 depthwise two outputs a step and the requantization's high multiply one
# split fewer), bit-exact with TFLM on every layer: 1.432
# Xtensa instructions per M4 portable instruction, measured in the same run (esp32_instructions /
# native_portable_instructions). Cycles per instruction, assumed: the LX6 is a 5-stage single-issue
# pipeline; ALU ops and 16/32-bit multiplies issue one per cycle, a load is 1 cycle with a 1-cycle
# penalty when the next instruction uses its result, a taken branch costs 2-3 cycles more (Cadence's
# Xtensa LX microarchitecture notes), and code and weights come through the flash cache: about 1.2
# to 1.4 for this load/multiply/add code; 1.2 taken. That is about 58 ms per inference at 240 MHz.
ESP32_NN_INSTRUCTION_FACTOR = round(11_500_884 / 8_033_866, 3)
ESP32_NN_CPI = 1.2


@dataclass(frozen=True)
class BoardBudget:
    """Memory budget and CPU of one board, in bytes.

    Attributes
    ----------
    name : str
        Board name as used by ``--board`` and the BOOT line.
    description : str
        One line for people.
    flash_bytes : int
        Flash available to the application (bootloader and other partitions excluded).
    ram_bytes : int
        RAM the linker may use for data (PlatformIO's ``maximum_ram_size``).
    flash_reserved_bytes : int
        Flash kept for the firmware's own code (Arduino core, RTOS, libc, tinykws core), without
        the inference engine (:data:`ENGINE_CODE_BYTES`).
    ram_reserved_bytes : int
        RAM kept for the firmware's own buffers, stacks, heap and serial buffers.
    env : str
        The platformio.ini environment that builds for this board.
    upload_hint : str
        What to try when an upload cannot reach the board.
    cpu : CpuModel or None
        Clock and cycles per instruction, for latency estimates.
    static_ram_bytes : int or None
        Where static data is capped below ``ram_bytes`` (ESP32: the ``dram0_0_seg`` length); the
        firmware's reserve and the engine's RAM must fit it.
    """

    name: str
    description: str
    flash_bytes: int
    ram_bytes: int
    flash_reserved_bytes: int
    ram_reserved_bytes: int
    env: str
    upload_hint: str = ""
    cpu: CpuModel | None = None
    static_ram_bytes: int | None = None

    def engine_flash_bytes(self, engine: str = "native") -> int:
        """Flash left for the model's data with ``engine``'s code linked in."""
        return self.flash_bytes - self.flash_reserved_bytes - ENGINE_CODE_BYTES[check_engine(engine)]

    @property
    def static_data_bytes(self) -> int:
        """Static RAM left after the firmware's own buffers."""
        return (self.static_ram_bytes if self.static_ram_bytes is not None else self.ram_bytes) - self.ram_reserved_bytes


BOARDS: dict[str, BoardBudget] = {
    "nano33ble": BoardBudget(
        "nano33ble", "Arduino Nano 33 BLE (Sense), nRF52840 Cortex-M4F 64 MHz",
        # 1 MB flash minus the 64 KB bootloader; 256 KB RAM (PlatformIO board nano33ble).
        flash_bytes=983_040, ram_bytes=262_144,
        # mbed OS + Arduino core, libc, libm, tinykws core: about 132 KB in the measured offline build
        # (237,196 B in all, less TFLM 56.9 KB and the model 48.0 KB); kept with room to spare.
        flash_reserved_bytes=200 * 1024,
        # mbed RTOS stacks and heap, USB serial, the 16 KB audio ring, MFCC/window/recognizer state
        # (about 82 KB besides the arena in the measured build).
        ram_reserved_bytes=96 * 1024,
        env="nano33ble",
        upload_hint="if the upload cannot find the board, double-press its reset button (the LED pulses) and try again",
        cpu=CpuModel("nRF52840 Cortex-M4F", 64_000_000, NANO_MFCC_CPI, nn_cycles_per_instruction=NANO_NN_CPI,
                     basis="Cortex-M4 at 64 MHz, cycles modelled over QEMU's trace: 1.19 per instruction in the int8 "
                           "engine, 1.47 in the MFCC; zero flash wait states assumed (instruction cache on)"),
    ),
    "esp32dev": BoardBudget(
        "esp32dev", "ESP32 DevKit, 240 MHz, 4 MB flash",
        # The default partition table's app partition (1.25 MB); the 320 KB of DRAM PlatformIO gives the linker.
        flash_bytes=1_310_720, ram_bytes=327_680,
        # Arduino-ESP32 + ESP-IDF runtime (~250 KB), tinykws core; the engine's code is counted apart.
        flash_reserved_bytes=336 * 1024,
        # Static data besides the engine's RAM, inside the static DRAM segment: Arduino-ESP32 and ESP-IDF
        # (.data/.bss), the 16 KB audio ring, the app's state, the 8 KB serial TX buffer. Task stacks,
        # I2S DMA buffers and the heap live in the rest of DRAM. An estimate: a build's size report tightens it.
        ram_reserved_bytes=56 * 1024,
        env="esp32dev",
        upload_hint="hold BOOT while the upload starts if the board does not enter the bootloader by itself",
        cpu=CpuModel("ESP32 Xtensa LX6 (one core)", 240_000_000, ESP32_CPI,
                     nn_instruction_factor=ESP32_NN_INSTRUCTION_FACTOR, nn_path="portable",
                     nn_cycles_per_instruction=ESP32_NN_CPI,
                     basis="estimate: 240 MHz; features at CoreMark/MHz LX6 2.07 vs Cortex-M4 3.40; int8 kernels: "
                           "the portable path, 1.432 Xtensa instructions per M4 instruction (QEMU lx106 stand-in), 1.2 cycles each"),
        static_ram_bytes=ESP32_STATIC_DRAM_BYTES,
    ),
}


@dataclass(frozen=True)
class FitReport:
    """Whether a model fits a board, and why.

    Attributes
    ----------
    board : str
        The board checked.
    fits : bool
        True when flash, RAM and ops all fit.
    lines : tuple of str
        One line per resource: use and headroom when it fits, the shortfall when it does not.
    problems : tuple of str
        The subset of ``lines`` that explain why it does not fit (empty when it fits).
    """

    board: str
    fits: bool
    lines: tuple[str, ...]
    problems: tuple[str, ...] = ()


def board(name: str) -> BoardBudget:
    """The budget of board ``name``; :class:`UserError` for an unknown board."""
    if name not in BOARDS:
        raise UserError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    return BOARDS[name]


def check_engine(engine: str) -> str:
    """``engine`` if it is one of :data:`ENGINES`; :class:`UserError` otherwise."""
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def _percent(used: int, total: int) -> str:
    return f"{100 * used / total:.0f} %" if total > 0 else "n/a"


def check_fit(board_name: str, tflite_bytes: int, arena_bytes: int, ops, *, engine: str = "native") -> FitReport:
    """Check a model against a board's flash, RAM and op budget for one engine.

    Parameters
    ----------
    board_name : str
        A key of :data:`BOARDS`.
    tflite_bytes : int
        What the engine keeps in flash for the model, in bytes: the generated weights and layer
        parameters.
    arena_bytes : int
        The engine's RAM in bytes: its activation and scratch buffers.
    ops : iterable of str
        TFLite builtin op names the model uses (``"CONV_2D"``, ...).
    engine : str
        One of :data:`ENGINES`: whose code is counted in flash.

    Returns
    -------
    FitReport
    """
    b = board(board_name)
    check_engine(engine)
    lines: list[str] = []
    problems: list[str] = []
    room = b.engine_flash_bytes(engine)
    flash_left = room - tflite_bytes
    if flash_left < 0:
        problems.append(f"flash: the native weights ({tflite_bytes:,} bytes) do not "
                        f"fit the {room:,} bytes left on {b.name} with the {engine} engine ({-flash_left:,} bytes over)")
        lines.append(problems[-1])
    else:
        lines.append(f"flash: weights {tflite_bytes:,} of {room:,} bytes ({_percent(tflite_bytes, room)}), "
                     f"{flash_left:,} bytes headroom [{b.flash_bytes:,} for the app, {b.flash_reserved_bytes:,} kept "
                     f"for firmware code, {ENGINE_CODE_BYTES[engine]:,} for the {engine} engine]")
    avail = b.static_data_bytes
    detail = f"[{b.static_ram_bytes or b.ram_bytes:,} for static data, {b.ram_reserved_bytes:,} kept for buffers, stacks and serial]"
    ram_left = avail - arena_bytes
    if ram_left < 0:
        problems.append(f"RAM: the native engine's {arena_bytes:,} bytes do not fit the {avail:,} bytes left for it on {b.name} "
                        f"({-ram_left:,} bytes over) {detail}")
        lines.append(problems[-1])
    else:
        lines.append(f"RAM: native engine {arena_bytes:,} of {avail:,} bytes ({_percent(arena_bytes, avail)}), "
                     f"{ram_left:,} bytes headroom {detail}")
    ops = list(ops)
    missing = sorted({o for o in ops if o not in SUPPORTED_OPS})
    if missing:
        problems.append(f"ops: the firmware cannot run {', '.join(missing)} "
                        f"(it can register {', '.join(sorted(SUPPORTED_OPS))})")
        lines.append(problems[-1])
    else:
        lines.append(f"ops: all {len(set(ops))} supported ({', '.join(sorted(set(ops)))})")
    return FitReport(b.name, not problems, tuple(lines), tuple(problems))


def ensure_fits(board_name: str, tflite_bytes: int, arena_bytes: int, ops, *, engine: str = "native") -> FitReport:
    """:func:`check_fit`, raising :class:`UserError` that names everything that does not fit and by how much."""
    r = check_fit(board_name, tflite_bytes, arena_bytes, ops, engine=engine)
    if not r.fits:
        raise UserError(f"the model does not fit {r.board}: " + "; ".join(r.problems))
    return r


@dataclass(frozen=True)
class PowerModel:
    """What a board's MCU and microphone draw while it listens, from datasheet figures.

    Attributes
    ----------
    listen_ma : float
        The MCU with its CPU asleep between interrupts while the microphone's clock, the audio
        peripheral and its DMA run (the floor while listening).
    compute_ma : float
        What the CPU adds while it computes (features, inference, the loop).
    mic_ma : float
        The microphone.
    supply_v : float
        The supply the figures are given at (mW = mA x V).
    sources : str
        Where each figure comes from.
    """

    listen_ma: float
    compute_ma: float
    mic_ma: float
    supply_v: float
    sources: str


#: Per board. Counted: the MCU and the microphone only; not the board's power LED, regulator, USB
#: bridge or other sensors (on a battery, cut the Nano's LED jumper; a DevKit's USB-UART chip and
#: regulator draw on their own), so the days are an upper bound for the bare module.
POWER: dict[str, PowerModel] = {
    # nRF52840 Product Specification v1.8, "CPU running" (CoreMark from flash, cache enabled,
    # 64 MHz, DC/DC at 3 V): 3.3 mA (6.3 mA with the LDO). While listening the PDM needs the 32 MHz
    # clock and EasyDMA, so the chip cannot reach its microamp sleep: about 1.9 mA, from a
    # published nRF52 measurement (Nordic DevZone, "Better mic solution for power constraint
    # application than PDM": ~2.5 mA average with the PDM running, 0.65 mA of it the microphone).
    # ST MP34DT05-A datasheet: 650 uA typical in normal mode.
    "nano33ble": PowerModel(1.9, 3.3, 0.65, 3.0,
                            "nRF52840 PS v1.8 (CPU 3.3 mA at 64 MHz, DC/DC); PDM listening floor ~1.9 mA "
                            "(Nordic DevZone measurement); MP34DT05-A 0.65 mA"),
    # ESP32 Series Datasheet (v4.x), "Power consumption by power modes", modem-sleep (radio off),
    # 240 MHz: 30 mA (cores idle in WAITI) to 68 mA (both cores busy); one core computing is taken as
    # the middle, 49 mA. The I2S DMA keeps the APB clock on, so light sleep (0.8 mA) is out while
    # listening. InvenSense INMP441 datasheet: 1.4 mA supply current, typical.
    "esp32dev": PowerModel(30.0, 19.0, 1.4, 3.3,
                           "ESP32 datasheet modem-sleep at 240 MHz (30 mA idle, 68 mA both cores busy: 49 mA one "
                           "core); INMP441 1.4 mA"),
}
