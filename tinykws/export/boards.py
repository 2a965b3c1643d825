"""Per-board budgets: the one place that says what fits where.

A model fits a board when its flatbuffer fits the flash left after the
firmware itself, its tensor arena fits the RAM left after the firmware's own
buffers and stack, and every op it uses is one the firmware can register.
Reserves are deliberately generous estimates of the Arduino core, TFLM library
and tinykws core on each board (measure a real build with `pio run -e ENV` and
its size report to tighten them).
"""

from __future__ import annotations

from dataclasses import dataclass

from tinykws.errors import UserError
from tinykws.export.carray import RESOLVER_METHODS


@dataclass(frozen=True)
class BoardBudget:
    name: str
    description: str
    flash_bytes: int          # flash available to the application
    ram_bytes: int            # RAM the linker may use
    flash_reserved_bytes: int  # Arduino core + TFLM kernels + tinykws code
    ram_reserved_bytes: int    # core buffers (ring, window, recognizer), stacks, heap, serial buffers
    env: str                  # platformio.ini environment
    upload_hint: str = ""

    @property
    def model_flash_bytes(self) -> int:
        return self.flash_bytes - self.flash_reserved_bytes

    @property
    def arena_ram_bytes(self) -> int:
        return self.ram_bytes - self.ram_reserved_bytes


BOARDS: dict[str, BoardBudget] = {
    "nano33ble": BoardBudget(
        "nano33ble", "Arduino Nano 33 BLE (Sense), nRF52840 Cortex-M4F 64 MHz", flash_bytes=983_040, ram_bytes=262_144,
        flash_reserved_bytes=300 * 1024, ram_reserved_bytes=96 * 1024, env="nano33ble",
        upload_hint="if the upload cannot find the board, double-press its reset button (the LED pulses) and try again",
    ),
    "esp32dev": BoardBudget(
        "esp32dev", "ESP32 DevKit, 240 MHz, 4 MB flash", flash_bytes=1_310_720, ram_bytes=327_680,
        flash_reserved_bytes=400 * 1024, ram_reserved_bytes=112 * 1024, env="esp32dev",
        upload_hint="hold BOOT while the upload starts if the board does not enter the bootloader by itself",
    ),
}


@dataclass(frozen=True)
class FitReport:
    board: str
    fits: bool
    lines: list[str]


def board(name: str) -> BoardBudget:
    if name not in BOARDS:
        raise UserError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}")
    return BOARDS[name]


def check_fit(board_name: str, tflite_bytes: int, arena_bytes: int, ops: list[str]) -> FitReport:
    b = board(board_name)
    lines, ok = [], True
    if tflite_bytes > b.model_flash_bytes:
        ok = False
        lines.append(f"model {tflite_bytes:,} bytes does not fit the {b.model_flash_bytes:,} bytes of flash left for it on "
                     f"{b.name} ({tflite_bytes - b.model_flash_bytes:,} bytes over)")
    else:
        lines.append(f"flash: model {tflite_bytes:,} of {b.model_flash_bytes:,} bytes ({100 * tflite_bytes / b.model_flash_bytes:.0f} %)")
    if arena_bytes > b.arena_ram_bytes:
        ok = False
        lines.append(f"tensor arena {arena_bytes:,} bytes does not fit the {b.arena_ram_bytes:,} bytes of RAM left for it on "
                     f"{b.name} ({arena_bytes - b.arena_ram_bytes:,} bytes over)")
    else:
        lines.append(f"RAM: arena {arena_bytes:,} of {b.arena_ram_bytes:,} bytes ({100 * arena_bytes / b.arena_ram_bytes:.0f} %)")
    missing = [o for o in ops if o not in RESOLVER_METHODS]
    if missing:
        ok = False
        lines.append(f"the firmware cannot run op(s) {', '.join(missing)} (supported: {', '.join(sorted(RESOLVER_METHODS))})")
    return FitReport(b.name, ok, lines)


def ensure_fits(board_name: str, tflite_bytes: int, arena_bytes: int, ops: list[str]) -> FitReport:
    """:func:`check_fit`, raising :class:`UserError` with every reason when the model does not fit."""
    r = check_fit(board_name, tflite_bytes, arena_bytes, ops)
    if not r.fits:
        raise UserError(f"the model does not fit {board_name}: " + "; ".join(l for l in r.lines if "does not" in l or "cannot" in l))
    return r
