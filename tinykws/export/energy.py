"""Energy of a board that listens: mW and days on a battery, from the cycle estimate and datasheet currents.

The firmware's loop sleeps until the next interrupt whenever a step found no new audio
(``kws_port_idle``: WFI on the nRF52840, a FreeRTOS tick on the ESP32), so the CPU computes for the
share of each stride that features + inference take (:class:`tinykws.export.latency.LatencyEstimate`,
modelled cycles) and sleeps the rest. With the per-board currents of
:data:`tinykws.export.boards.POWER`:

    mean current = listening floor + CPU's extra current x compute share + microphone

mW is that times the supply voltage; days on a cell of ``capacity_mah`` are ``capacity / mean / 24``.
Counted: the MCU and the microphone; not the board's LEDs, regulator losses or other chips. A figure
to compare models and strides with, not a measurement: a power meter on the board settles it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: The cell the days are given for.
CELL_MAH = 1000


@dataclass(frozen=True)
class EnergyEstimate:
    """Mean current, power and battery life of one board listening with one model at one stride."""

    board: str
    compute_share: float
    mean_ma: float
    mw: float
    days: float
    cell_mah: int = CELL_MAH

    def line(self) -> str:
        """``energy: 14.0 mW (4.7 mA; CPU computing 64 % of the time), 8.9 days on a 1000 mAh cell``."""
        return (f"energy: {self.mw:.1f} mW ({self.mean_ma:.1f} mA; CPU computing {100 * self.compute_share:.0f} % of "
                f"the time), {self.days:.1f} days on a {self.cell_mah} mAh cell (MCU + microphone)")

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("compute_share", "mean_ma", "mw", "days"):
            d[k] = round(d[k], 3)
        return d


def estimate_energy(latency, *, cell_mah: int = CELL_MAH) -> EnergyEstimate:
    """The :class:`EnergyEstimate` of a :class:`tinykws.export.latency.LatencyEstimate`.

    A board that cannot keep up computes all the time (its share is capped at 1).
    """
    from tinykws.export.boards import POWER

    p = POWER[latency.board]
    share = min(1.0, max(0.0, latency.budget_fraction))
    ma = p.listen_ma + p.compute_ma * share + p.mic_ma
    return EnergyEstimate(latency.board, share, ma, ma * p.supply_v, cell_mah / ma / 24.0, cell_mah)
