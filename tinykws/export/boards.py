"""Per-board budgets: the one place that says what fits where.

Contract: a model fits a board when

- its flatbuffer (``tflite_bytes``, compiled in as ``kws_model_data``) fits the flash left for the
  application after the firmware's own code (Arduino core, TFLM kernels, tinykws core);
- its tensor arena (``arena_bytes``, a static array in the firmware) fits the RAM left after the
  firmware's own buffers (audio ring, MFCC and window state, serial buffers, stacks, heap);
- every TFLite builtin op it uses is one the firmware can register (:data:`SUPPORTED_OPS`, the keys
  of :data:`tinykws.export.carray.RESOLVER_METHODS`, which also generates ``KWS_MODEL_OPS``).

Flash and RAM totals are what PlatformIO's board files give the linker (``upload.maximum_size`` and
``upload.maximum_ram_size``). The reserves are deliberately generous estimates of the firmware
without a model; measure a real build (``pio run -e ENV`` prints its size) to tighten them.
``tinykws export --board`` and ``tinykws flash`` call :func:`ensure_fits` before writing anything,
so a model that cannot work is refused on the laptop instead of failing on the board.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinykws.errors import UserError
from tinykws.export.carray import RESOLVER_METHODS

#: TFLite builtin op names (e.g. ``"CONV_2D"``) the firmware's resolver can register.
SUPPORTED_OPS: frozenset[str] = frozenset(RESOLVER_METHODS)


@dataclass(frozen=True)
class BoardBudget:
    """Memory budget of one board, in bytes.

    Attributes
    ----------
    name : str
        Board name as used by ``--board`` and the BOOT line.
    description : str
        One line for people.
    flash_bytes : int
        Flash available to the application (bootloader and other partitions excluded).
    ram_bytes : int
        RAM the linker may use for static data.
    flash_reserved_bytes : int
        Flash kept for the firmware's code: Arduino core, TFLM kernels, tinykws core.
    ram_reserved_bytes : int
        RAM kept for the firmware's own buffers, stacks, heap and serial buffers.
    env : str
        The platformio.ini environment that builds for this board.
    upload_hint : str
        What to try when an upload cannot reach the board.
    """

    name: str
    description: str
    flash_bytes: int
    ram_bytes: int
    flash_reserved_bytes: int
    ram_reserved_bytes: int
    env: str
    upload_hint: str = ""

    @property
    def model_flash_bytes(self) -> int:
        """Flash left for the model's flatbuffer."""
        return self.flash_bytes - self.flash_reserved_bytes

    @property
    def arena_ram_bytes(self) -> int:
        """RAM left for the tensor arena."""
        return self.ram_bytes - self.ram_reserved_bytes


BOARDS: dict[str, BoardBudget] = {
    "nano33ble": BoardBudget(
        "nano33ble", "Arduino Nano 33 BLE (Sense), nRF52840 Cortex-M4F 64 MHz",
        # 1 MB flash minus the 64 KB bootloader; 256 KB RAM (PlatformIO board nano33ble).
        flash_bytes=983_040, ram_bytes=262_144,
        # mbed OS + Arduino core (~120 KB), TFLM kernels (~100 KB), tinykws core, with room to spare.
        flash_reserved_bytes=300 * 1024,
        # mbed RTOS stacks and heap, USB serial, the 16 KB audio ring, MFCC/window/recognizer state.
        ram_reserved_bytes=96 * 1024,
        env="nano33ble",
        upload_hint="if the upload cannot find the board, double-press its reset button (the LED pulses) and try again",
    ),
    "esp32dev": BoardBudget(
        "esp32dev", "ESP32 DevKit, 240 MHz, 4 MB flash",
        # The default partition table's app partition (1.25 MB); the 320 KB PlatformIO gives the linker.
        flash_bytes=1_310_720, ram_bytes=327_680,
        # Arduino-ESP32 + ESP-IDF runtime (~250 KB), TFLM kernels, tinykws core.
        flash_reserved_bytes=400 * 1024,
        # FreeRTOS tasks and heap, I2S DMA buffers, the 8 KB serial TX buffer, the core's state.
        ram_reserved_bytes=112 * 1024,
        env="esp32dev",
        upload_hint="hold BOOT while the upload starts if the board does not enter the bootloader by itself",
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


def _percent(used: int, total: int) -> str:
    return f"{100 * used / total:.0f} %" if total > 0 else "n/a"


def check_fit(board_name: str, tflite_bytes: int, arena_bytes: int, ops) -> FitReport:
    """Check a model against a board's flash, RAM and op budget.

    Parameters
    ----------
    board_name : str
        A key of :data:`BOARDS`.
    tflite_bytes : int
        Size of the model's flatbuffer in bytes (it goes into flash).
    arena_bytes : int
        Tensor arena the firmware will reserve, in bytes (it goes into RAM).
    ops : iterable of str
        TFLite builtin op names the model uses (``"CONV_2D"``, ...).

    Returns
    -------
    FitReport
    """
    b = board(board_name)
    lines: list[str] = []
    problems: list[str] = []
    flash_left = b.model_flash_bytes - tflite_bytes
    if flash_left < 0:
        problems.append(f"flash: the model's {tflite_bytes:,} bytes do not fit the {b.model_flash_bytes:,} bytes left "
                        f"for it on {b.name} ({-flash_left:,} bytes over)")
        lines.append(problems[-1])
    else:
        lines.append(f"flash: model {tflite_bytes:,} of {b.model_flash_bytes:,} bytes "
                     f"({_percent(tflite_bytes, b.model_flash_bytes)}), {flash_left:,} bytes headroom "
                     f"[{b.flash_bytes:,} for the app, {b.flash_reserved_bytes:,} kept for firmware code]")
    ram_left = b.arena_ram_bytes - arena_bytes
    if ram_left < 0:
        problems.append(f"RAM: the tensor arena's {arena_bytes:,} bytes do not fit the {b.arena_ram_bytes:,} bytes "
                        f"left for it on {b.name} ({-ram_left:,} bytes over)")
        lines.append(problems[-1])
    else:
        lines.append(f"RAM: arena {arena_bytes:,} of {b.arena_ram_bytes:,} bytes "
                     f"({_percent(arena_bytes, b.arena_ram_bytes)}), {ram_left:,} bytes headroom "
                     f"[{b.ram_bytes:,} in all, {b.ram_reserved_bytes:,} kept for buffers, stacks and serial]")
    ops = list(ops)
    missing = sorted({o for o in ops if o not in SUPPORTED_OPS})
    if missing:
        problems.append(f"ops: the firmware cannot run {', '.join(missing)} "
                        f"(it can register {', '.join(sorted(SUPPORTED_OPS))})")
        lines.append(problems[-1])
    else:
        lines.append(f"ops: all {len(set(ops))} supported ({', '.join(sorted(set(ops)))})")
    return FitReport(b.name, not problems, tuple(lines), tuple(problems))


def ensure_fits(board_name: str, tflite_bytes: int, arena_bytes: int, ops) -> FitReport:
    """:func:`check_fit`, raising :class:`UserError` that names everything that does not fit and by how much."""
    r = check_fit(board_name, tflite_bytes, arena_bytes, ops)
    if not r.fits:
        raise UserError(f"the model does not fit {r.board}: " + "; ".join(r.problems))
    return r
