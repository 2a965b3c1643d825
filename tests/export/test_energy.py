"""The energy estimate (tinykws.export.energy): datasheet currents x the share of time the CPU computes."""

import pytest

from tinykws.export.boards import BOARDS, POWER
from tinykws.export.energy import estimate_energy
from tinykws.export.latency import estimate_latency, latency_report
from tinykws.spec import FeatureSpec


@pytest.fixture(scope="module")
def shipped():
    from tests.export.test_native_engine import shipped_model

    return shipped_model()


def test_every_board_has_cited_currents():
    assert set(POWER) == set(BOARDS)
    for name, p in POWER.items():
        assert p.listen_ma > 0 and p.compute_ma > 0 and p.mic_ma > 0 and p.supply_v >= 3.0, name
        assert p.sources


def test_energy_follows_the_compute_share(shipped):
    nano = estimate_latency(shipped, FeatureSpec(), 100, "nano33ble")
    e = estimate_energy(nano)
    p = POWER["nano33ble"]
    assert e.compute_share == pytest.approx(nano.budget_fraction)
    assert e.mean_ma == pytest.approx(p.listen_ma + p.compute_ma * nano.budget_fraction + p.mic_ma)
    assert e.mw == pytest.approx(e.mean_ma * p.supply_v) and e.days == pytest.approx(1000 / e.mean_ma / 24)
    # A longer stride computes a smaller share of the time: less power, more days.
    slow = estimate_energy(estimate_latency(shipped, FeatureSpec(), 200, "nano33ble"))
    assert slow.compute_share < e.compute_share and slow.mw < e.mw and slow.days > e.days
    # Never below the listening floor, never above the CPU always on.
    assert p.listen_ma + p.mic_ma < e.mean_ma < p.listen_ma + p.compute_ma + p.mic_ma
    assert "mW (" in e.line() and "days on a 1000 mAh cell" in e.line()


def test_a_board_that_cannot_keep_up_computes_all_the_time(shipped):
    over = estimate_latency(shipped, FeatureSpec(), 40, "esp32dev")
    assert over.budget_fraction > 1
    e = estimate_energy(over)
    p = POWER["esp32dev"]
    assert e.compute_share == 1.0 and e.mean_ma == pytest.approx(p.listen_ma + p.compute_ma + p.mic_ma)


def test_the_run_report_carries_energy_per_board(shipped):
    from tinykws.evaluate.report import latency_md

    rep = latency_report(shipped, FeatureSpec(), 100)
    md = "\n".join(latency_md(rep))
    assert "| power | days on 1000 mAh |" in md
    for row in rep["estimates"]:
        assert row["energy"]["board"] == row["board"]
        assert f"| {row['energy']['mw']:.1f} mW | {row['energy']['days']:.1f} |" in md
