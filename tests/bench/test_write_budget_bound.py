"""The write-budget replay's lower bound: the fewest writes any change rule could make."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.bench_sync import _fewest_writes_any_rule
from tariffs.engine.model import PERIODS_PER_DAY, HalfHourRates


def flat(buy_c: str, sell_c: str = "5") -> HalfHourRates:
    return HalfHourRates(
        buy_dollars_per_kwh=(Decimal(buy_c) / 100,) * PERIODS_PER_DAY,
        sell_dollars_per_kwh=(Decimal(sell_c) / 100,) * PERIODS_PER_DAY,
    )


@pytest.fixture(autouse=True)
def one_cent_tolerance(settings):
    settings.SYNC_TOLERANCE_C_PER_KWH = "1"


def test_values_spanning_twice_the_tolerance_need_one_write():
    # 20 → 22 c spans 2 c: a held 21 c stays within 1 c of every one of them.
    syncs = [(10, flat(c)) for c in ("20", "21", "22", "21.5", "20")]
    assert _fewest_writes_any_rule(syncs) == 1


def test_a_span_past_twice_the_tolerance_forces_a_second_write():
    syncs = [(10, flat(c)) for c in ("20", "21", "22.01")]
    assert _fewest_writes_any_rule(syncs) == 2


def test_a_drift_counts_each_forced_break_once():
    # 0.5 c per sync for 13 syncs: 0..6 c; stretches of at most 2 c hold 5 values each.
    syncs = [(10, flat(str(Decimal("20") + Decimal("0.5") * i))) for i in range(13)]
    assert _fewest_writes_any_rule(syncs) == 3


def test_only_the_current_and_next_half_hours_are_held_to_the_tolerance():
    far_moves = []
    for i in range(6):
        buy = [Decimal("0.20")] * PERIODS_PER_DAY
        buy[30] = Decimal(10 * i) / 100  # a half-hour far ahead swings by 10 c each sync
        far_moves.append((10, HalfHourRates(tuple(buy), (Decimal("0.05"),) * PERIODS_PER_DAY)))
    assert _fewest_writes_any_rule(far_moves) == 1


def test_feed_in_is_held_to_the_tolerance_too():
    syncs = [(10, flat("20", sell)) for sell in ("5", "7.5")]
    assert _fewest_writes_any_rule(syncs) == 2


def test_the_bound_never_exceeds_what_the_sync_rule_writes(settings):
    # The real rule (push_needed) writes a fresh tariff whenever it must; it can only do worse.
    from tariffs.change_rule import push_needed

    steps = ["20", "20.6", "21.3", "20.1", "22.4", "22.9", "21", "25", "24.2", "24.9"]
    syncs = [(10, flat(c)) for c in steps]
    held, rule_writes = None, 0
    for index, rates in syncs:
        if push_needed(held, rates, index)[0]:
            rule_writes += 1
            held = rates
    # Stretches: 20 … 20.1 (span 1.3 c) | 22.4, 22.9, 21 (1.9 c) | 25, 24.2, 24.9 (0.8 c).
    assert _fewest_writes_any_rule(syncs) == 3
    assert rule_writes == 6
