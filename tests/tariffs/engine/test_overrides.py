from __future__ import annotations

from decimal import Decimal

import pytest

from tariffs.engine.model import HalfHourRates
from tariffs.engine.overrides import (
    export_window_rates,
    periods_for_minutes,
    spike_sell_dollars_per_kwh,
)

BASE = HalfHourRates(
    tuple(Decimal("0.30") for _ in range(48)), tuple(Decimal("0.05") for _ in range(48))
)


def test_window_gets_high_sell_and_higher_buy_rest_unchanged():
    rates = export_window_rates(BASE, start_index=35, periods=2, sell_dollars_per_kwh=Decimal("2"))
    assert rates.sell_dollars_per_kwh[35:37] == (Decimal("2"), Decimal("2"))
    assert rates.buy_dollars_per_kwh[35:37] == (Decimal("2.1"), Decimal("2.1"))
    assert rates.sell_dollars_per_kwh[34] == rates.sell_dollars_per_kwh[37] == Decimal("0.05")
    assert sum(1 for s in rates.sell_dollars_per_kwh if s == Decimal("2")) == 2


def test_window_wraps_midnight():
    rates = export_window_rates(BASE, start_index=47, periods=3, sell_dollars_per_kwh=Decimal("2"))
    assert [i for i, s in enumerate(rates.sell_dollars_per_kwh) if s == 2] == [0, 1, 47]


@pytest.mark.parametrize(
    ("minutes", "minute_of_half_hour", "expected"),
    [(15, 0, 1), (30, 0, 1), (30, 10, 2), (45, 20, 3), (120, 0, 4), (120, 29, 5), (2000, 0, 48)],
)
def test_periods_for_minutes(minutes, minute_of_half_hour, expected):
    assert periods_for_minutes(minutes, minute_of_half_hour=minute_of_half_hour) == expected


def test_spike_sell_follows_wholesale_with_a_floor():
    assert spike_sell_dollars_per_kwh(Decimal("5000")) == Decimal("5")
    assert spike_sell_dollars_per_kwh(Decimal("14500")) == Decimal("14.5")
    assert spike_sell_dollars_per_kwh(Decimal("300")) == Decimal("1")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"outside 0\.\.47"):
        export_window_rates(BASE, start_index=48, periods=1, sell_dollars_per_kwh=Decimal(1))
    with pytest.raises(ValueError, match="periods must be"):
        export_window_rates(BASE, start_index=0, periods=0, sell_dollars_per_kwh=Decimal(1))
    with pytest.raises(ValueError, match="at least a minute"):
        periods_for_minutes(0, minute_of_half_hour=0)
