"""Serial ports: finding the board, opening it with clear errors, talking in lines.

``--port auto`` picks the only port that looks like a board (by USB vendor and
product id, or a tinykws virtual board) and otherwise says why it cannot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tinykws.errors import UserError

# USB ids (vendor, product or None for any product) -> guess.
KNOWN_IDS: list[tuple[int, int | None, str]] = [
    (0x2341, 0x805A, "Arduino Nano 33 BLE (Sense)"),
    (0x2341, 0x005A, "Arduino Nano 33 BLE (Sense), bootloader"),
    (0x2341, 0x8061, "Arduino Nano 33 BLE Sense Rev2"),
    (0x2341, 0x0061, "Arduino Nano 33 BLE Sense Rev2, bootloader"),
    (0x10C4, 0xEA60, "ESP32 (CP210x USB-UART bridge)"),
    (0x1A86, 0x7523, "ESP32 (CH340 USB-UART bridge)"),
    (0x1A86, 0x55D4, "ESP32 (CH9102 USB-UART bridge)"),
    (0x0403, 0x6001, "ESP32 (FTDI USB-UART bridge)"),
    (0x303A, None, "ESP32 (Espressif native USB)"),
]


@dataclass(frozen=True)
class PortInfo:
    device: str
    description: str
    vid: int | None
    pid: int | None
    guess: str | None

    def to_dict(self) -> dict:
        return {"device": self.device, "description": self.description,
                "vid": f"{self.vid:04x}" if self.vid is not None else None,
                "pid": f"{self.pid:04x}" if self.pid is not None else None, "board": self.guess}


def guess_board(vid: int | None, pid: int | None) -> str | None:
    if vid is None:
        return None
    for v, p, name in KNOWN_IDS:
        if v == vid and (p is None or p == pid):
            return name
    return None


def list_ports() -> list[PortInfo]:
    from serial.tools import list_ports as lp

    out = []
    for p in sorted(lp.comports(), key=lambda p: p.device):
        out.append(PortInfo(p.device, p.description or "", p.vid, p.pid, guess_board(p.vid, p.pid)))
    return out


def resolve_port(port: str | None) -> str:
    """A port path, or with ``auto`` / ``None`` the single port that looks like a board."""
    if port and port != "auto":
        return port
    boards = [p for p in list_ports() if p.guess]
    if len(boards) == 1:
        return boards[0].device
    if not boards:
        raise UserError("no board found on any serial port (is it plugged in with a data cable?); "
                        "`tinykws devices` lists the ports, or pass --port PATH")
    raise UserError("several boards found: " + ", ".join(f"{p.device} ({p.guess})" for p in boards) + "; pass --port PATH")


def open_port(port: str, baud: int = 921600, timeout_s: float = 0.1):
    """Open a serial port; clear :class:`UserError` for a missing or busy port."""
    import serial

    try:
        return serial.Serial(port, baudrate=baud, timeout=timeout_s, exclusive=True)
    except serial.SerialException as e:
        msg = str(e)
        if "No such file" in msg or "could not open port" in msg and "FileNotFound" in msg:
            raise UserError(f"serial port {port} does not exist (unplugged?); `tinykws devices` lists the ports") from None
        if "busy" in msg.lower() or "lock" in msg.lower() or "Resource temporarily unavailable" in msg:
            raise UserError(f"serial port {port} is busy: close the other program using it (serial monitor, IDE)") from None
        if "Permission denied" in msg:
            raise UserError(f"no permission to open {port}: add yourself to the 'dialout' group (Linux) and log in again") from None
        raise UserError(f"cannot open {port}: {msg.splitlines()[0] if msg else e}") from None


class BoardLink:
    """Lines in, commands out, over an open serial port."""

    def __init__(self, ser):
        from tinykws.board.protocol import LineReader

        self.ser = ser
        self.reader = LineReader()
        self.raw: list[str] = []

    def send(self, data: bytes) -> None:
        self.ser.write(data)
        self.ser.flush()

    def poll(self, raw_lines: list[str] | None = None):
        """Records from whatever bytes are waiting (at most one read timeout of waiting)."""
        n = max(self.ser.in_waiting, 1)
        data = self.ser.read(n)
        return self.reader.feed(data, raw_lines) if data else []

    def wait_for(self, kind, timeout_s: float, predicate=None, raw_lines=None):
        """The first record of type ``kind`` (matching ``predicate``) within ``timeout_s``, else ``None``."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for r in self.poll(raw_lines):
                if isinstance(r, kind) and (predicate is None or predicate(r)):
                    return r
        return None

    def close(self) -> None:
        try:
            self.ser.close()
        except Exception:
            pass
