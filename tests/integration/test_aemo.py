"""AEMO: the real AemoClient against the simulator's NEM dashboard reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from pricing.providers.aemo import ALL_REGIONS, AemoClient, Region

from .conftest import Sim

pytestmark = pytest.mark.integration

# A site-level spike threshold above the replayed winter evening (SA1 ~ $308/MWh at 16:24).
SPIKE_THRESHOLD = Decimal(1000)


def aemo(sim: Sim, session: requests.Session) -> AemoClient:
    return AemoClient(session=session, base_url=sim.urls["aemo"])


def test_current_prices_for_all_five_regions(sim: Sim, session: requests.Session) -> None:
    result = aemo(sim, session).get_current_prices()

    assert result.missing_regions == ()
    assert set(result.prices) == set(ALL_REGIONS)
    # Clock pinned at 16:24 NEM: the dispatch interval in progress ends 16:25 NEM = 06:25 UTC.
    expected_end = datetime(2025, 6, 28, 6, 25, tzinfo=UTC)
    for region, price in result.prices.items():
        assert price.region is region
        assert price.interval_end_utc == expected_end
        assert price.interval_end_utc.tzinfo is UTC
        assert price.interval_start_utc == expected_end - timedelta(minutes=5)
        assert price.rrp_dollars_per_mwh < SPIKE_THRESHOLD
        assert price.price_status


def test_spike_scenario_raises_one_region_over_the_threshold(
    sim: Sim, session: requests.Session
) -> None:
    sim.scenario("aemo_spike", region="SA1", rrp=5000)

    prices = aemo(sim, session).get_current_prices().prices

    assert prices[Region.SA1].rrp_dollars_per_mwh >= SPIKE_THRESHOLD
    assert prices[Region.SA1].rrp_dollars_per_mwh == Decimal(5000)
    others = [p for region, p in prices.items() if region is not Region.SA1]
    assert all(p.rrp_dollars_per_mwh < SPIKE_THRESHOLD for p in others)


def test_only_asked_regions_are_returned(sim: Sim, session: requests.Session) -> None:
    result = aemo(sim, session).get_current_prices(["qld1", "TAS1"])
    assert set(result.prices) == {Region.QLD1, Region.TAS1}
    assert result.missing_regions == ()


def test_price_series_has_actuals_and_forecasts(sim: Sim, session: requests.Session) -> None:
    series = aemo(sim, session).get_price_series()

    assert series.missing_regions == ()
    now = sim.now()
    for region in ALL_REGIONS:
        actuals = series.actuals(region)
        forecasts = series.forecasts(region)
        assert len(actuals) == 288  # the last 24 h of 5-minute dispatch prices
        assert {p.duration_min for p in actuals} == {5}
        assert {p.duration_min for p in forecasts} == {30}
        assert forecasts, region
        # Dispatch prices are set when an interval starts: the last actual is the one in progress.
        assert actuals[-1].interval_start_utc <= now < actuals[-1].interval_end_utc
        # Predispatch starts with the trading half hour in progress.
        assert forecasts[0].interval_start_utc <= now < forecasts[0].interval_end_utc
        ends = [p.interval_end_utc for p in actuals + forecasts]
        assert ends == sorted(ends)
        assert all(end.tzinfo is UTC for end in ends)
        for point in actuals + forecasts:
            assert point.interval_start_utc == point.interval_end_utc - timedelta(
                minutes=point.duration_min
            )
        # Predispatch runs to about 04:00 NEM the next day.
        assert forecasts[-1].interval_end_utc == datetime(2025, 6, 28, 18, 0, tzinfo=UTC)
