"""Serial ports: finding the board, opening it with clear errors, talking in lines.

``--port auto`` picks the only port that looks like a board (by USB vendor and
product id) or, with none plugged in, the only ``tinykws sim`` running (its
registry entry, :func:`tinykws.board.sim.running_sims`), and otherwise says why it cannot.

Opening a port must not reset the board. ESP32 DevKits wire the USB-UART
bridge's DTR and RTS lines to EN and IO0 (the "auto-reset" circuit esptool
uses), so a program that raises or drops them on open restarts the board.
:func:`open_port` sets both lines low *before* opening. That is the whole story
on Windows (the lines are part of the settings the port opens with); on Linux
and macOS the kernel raises them as the device opens, before any program can
stop it, and pyserial lowers them right after, so some boards still restart.
Hence :meth:`BoardLink.hello` and :meth:`BoardLink.request`: a ``BOOT`` line
while a command is outstanding means the board restarted and lost the command,
so the link waits for that ``BOOT``, says so once, and sends the command again.

A port that goes away mid-run (board unplugged, USB re-enumeration) is a
:class:`~tinykws.errors.UserError` of one line from :meth:`BoardLink.send` and
:meth:`BoardLink.poll`, never a traceback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from tinykws.errors import UserError

#: Said (once per link) when a command had to be repeated because the board restarted.
RESTART_NOTE = "board restarted when the port opened; waited for BOOT"

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
        from tinykws.board.sim import running_sims

        sims = running_sims()  # no USB board: a `tinykws sim` running now is the board
        if len(sims) == 1:
            return sims[0]
        if sims:
            raise UserError(f"no USB board, and several virtual boards run ({', '.join(sims)}): pass --port PATH")
        raise UserError("no board found on any serial port (is it plugged in with a data cable?) and no `tinykws sim` "
                        "runs; `tinykws devices` lists the ports, or pass --port PATH")
    raise UserError("several boards found: " + ", ".join(f"{p.device} ({p.guess})" for p in boards) + "; pass --port PATH")


def open_port(port: str, baud: int = 921600, timeout_s: float = 0.1):
    """Open a serial port without toggling DTR/RTS; clear :class:`UserError` for a missing or busy port."""
    import serial

    ser = serial.Serial()
    ser.port = port
    ser.baudrate = baud
    ser.timeout = timeout_s
    ser.exclusive = True
    # Low before open() so the ESP32 auto-reset circuit sees no edge (see the module docstring for
    # what the kernel does anyway on Linux and macOS).
    ser.dtr = False
    ser.rts = False
    try:
        ser.open()
        return ser
    except (serial.SerialException, OSError) as e:
        msg = str(e)
        if "No such file" in msg or "could not open port" in msg and "FileNotFound" in msg:
            raise UserError(f"serial port {port} does not exist (unplugged?); `tinykws devices` lists the ports") from None
        if "busy" in msg.lower() or "lock" in msg.lower() or "Resource temporarily unavailable" in msg:
            raise UserError(f"serial port {port} is busy: close the other program using it (serial monitor, IDE)") from None
        if "Permission denied" in msg:
            raise UserError(f"no permission to open {port}: add yourself to the 'dialout' group (Linux) and log in again") from None
        raise UserError(f"cannot open {port}: {msg.splitlines()[0] if msg else e}") from None


def port_errors() -> tuple[type[BaseException], ...]:
    """What a port that went away raises: pyserial's error, the OS's, and on POSIX ``termios.error``
    (``flush()`` drains through termios, whose error is not an ``OSError``)."""
    import serial

    errors: tuple[type[BaseException], ...] = (serial.SerialException, OSError)
    try:
        import termios

        errors += (termios.error,)
    except ImportError:  # Windows
        pass
    return errors


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class BoardLink:
    """Lines in, commands out, over an open serial port.

    ``boot`` holds the last ``BOOT``/``INFO`` line seen by :meth:`hello` or :meth:`request`.
    """

    def __init__(self, ser, port: str | None = None):
        from tinykws.board.protocol import LineReader

        self.ser = ser
        self.port = port or getattr(ser, "port", None) or "the serial port"
        self.reader = LineReader()
        self.raw: list[str] = []
        self.boot = None
        self.restarts = 0

    def _lost(self, e: BaseException) -> UserError:
        return UserError(f"lost the connection to {self.port} (board unplugged or reset?): {_first_line(e)}")

    def send(self, data: bytes) -> None:
        try:
            self.ser.write(data)
            self.ser.flush()
        except port_errors() as e:
            raise self._lost(e) from None

    def poll(self, raw_lines: list[str] | None = None):
        """Records from whatever bytes are waiting (at most one read timeout of waiting)."""
        try:
            n = max(self.ser.in_waiting, 1)
            data = self.ser.read(n)
        except port_errors() as e:
            raise self._lost(e) from None
        return self.reader.feed(data, raw_lines) if data else []

    def wait_for(self, kind, timeout_s: float, predicate=None, raw_lines=None):
        """The first record of type ``kind`` (matching ``predicate``) within ``timeout_s``, else ``None``."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for r in self.poll(raw_lines):
                if isinstance(r, kind) and (predicate is None or predicate(r)):
                    return r
        return None

    def request(self, command: bytes, kind, predicate=None, *, timeout_s: float = 3.0, retries: int = 2,
                say: Callable[[str], None] | None = None, on_record: Callable | None = None):
        """Send ``command`` and return its answer (the first ``kind`` record matching ``predicate``).

        A ``BOOT`` line while waiting means the board restarted (the port opening reset it, or it
        was reset by hand) and the command was lost: the command is sent again, up to ``retries``
        times, and :data:`RESTART_NOTE` is said the first time. ``None`` when no answer came.
        ``on_record`` sees every other record that arrives meanwhile.
        """
        from tinykws.board.protocol import Boot

        for _ in range(retries + 1):
            self.send(command)
            end = time.monotonic() + timeout_s
            restarted = False
            while time.monotonic() < end and not restarted:
                for r in self.poll():
                    if isinstance(r, Boot):
                        self.boot = r
                    if isinstance(r, kind) and (predicate is None or predicate(r)):
                        return r
                    if isinstance(r, Boot) and r.tag == "BOOT":
                        restarted = True
                    elif on_record is not None:
                        on_record(r)
            if not restarted:
                return None
            self._restarted(say)
        return None

    def hello(self, *, timeout_s: float = 5.0, say: Callable[[str], None] | None = None):
        """The board's identity (a ``Boot`` record): asks ``info``; a board that restarted as the port
        opened lost that question and introduces itself with ``BOOT`` instead. ``None`` if silent."""
        from tinykws.board.protocol import Boot

        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.send(b"info\n")
            boot = self.wait_for(Boot, min(1.5, max(end - time.monotonic(), 0.05)))
            if boot is not None:
                self.boot = boot
                if boot.tag == "BOOT":
                    self._restarted(say)
                return boot
        return None

    def _restarted(self, say) -> None:
        self.restarts += 1
        if self.restarts == 1 and say is not None:
            say(RESTART_NOTE)

    def close(self) -> None:
        try:
            self.ser.close()
        except Exception:
            pass
