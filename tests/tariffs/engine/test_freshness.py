"""The stale/missing-data gate on the real Amber capture (newest settled price 16:20-16:25 AEST)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tariffs.engine.amber import build_amber_rates, parse_amber_intervals
from tariffs.engine.freshness import Built, FreshnessRule, Refused
from tests.tariffs.engine.test_amber import BRISBANE, at, built, index_of, load_fixture


def build(rows: list[dict[str, Any]], now: datetime, **kwargs: Any) -> Built | Refused:
    return build_amber_rates(parse_amber_intervals(rows), zone=BRISBANE, now=now, **kwargs)


def without(
    rows: list[dict[str, Any]], *nem_times: str, channel: str = "general"
) -> list[dict[str, Any]]:
    return [r for r in rows if not (r["channelType"] == channel and r["nemTime"][:16] in nem_times)]


def test_thirty_minutes_after_the_newest_settled_price_is_still_fresh() -> None:
    assert isinstance(build(load_fixture(), at(16, 55)), Built)  # 16:25 + 30 min


def test_older_data_is_refused_not_pushed() -> None:
    result = build(load_fixture(), at(16, 55, 1))
    assert isinstance(result, Refused)
    assert result.reason.startswith(
        "stale prices: the newest actual/current price ended 2025-06-28T06:25:00Z"
    )
    assert "limit 30 min" in result.reason


def test_the_age_limit_is_configurable() -> None:
    rule = FreshnessRule(max_age=timedelta(minutes=10))
    assert isinstance(build(load_fixture(), at(16, 36), rule=rule), Refused)
    assert isinstance(build(load_fixture(), at(16, 35), rule=rule), Built)


def test_data_from_the_future_is_refused() -> None:
    # the current interval 16:20-16:25 cannot exist at 16:18
    result = build(load_fixture(), at(16, 18))
    assert isinstance(result, Refused)
    assert "from the future" in result.reason


def test_forecasts_alone_are_refused() -> None:
    rows = [r for r in load_fixture() if r["type"] == "ForecastInterval"]
    result = build(rows, at(16, 25))
    assert isinstance(result, Refused)
    assert "no actual or current price" in result.reason


def test_no_buy_channel_is_refused() -> None:
    rows = [r for r in load_fixture() if r["channelType"] == "feedIn"]
    result = build(rows, at(16, 25))
    assert isinstance(result, Refused)
    assert "no general-channel" in result.reason


def test_empty_data_is_refused_never_zeros() -> None:
    result = build([], at(16, 25))
    assert isinstance(result, Refused)


def test_one_missing_half_hour_is_interpolated_and_noted() -> None:
    # Drop the 30-min general forecast ending 18:00 (PERIOD_17_30). Neighbours in real time:
    # PERIOD_17_00 (ending 17:30, predicted 62.06857) and PERIOD_18_00 (ending 18:30, 58.78025):
    # (62.06857 + 58.78025) / 2 = 60.42441 c -> $0.6042
    result = built(build(without(load_fixture(), "2025-06-28T18:00"), at(16, 25)))
    assert result.rates.buy_dollars_per_kwh[index_of("PERIOD_17_30")] == Decimal("0.6042")
    assert result.rates.sell_dollars_per_kwh[index_of("PERIOD_17_30")] == Decimal("0.244")  # intact
    assert (
        "PERIOD_17_30 buy: no data, interpolated between neighbours (60.42441 c/kWh)"
        in result.notes
    )


def test_two_missing_half_hours_are_interpolated_in_thirds() -> None:
    # Drop 17:30-18:00 and 18:00-18:30 sell (feedIn ending 18:00, 18:30). Neighbours:
    # PERIOD_17_00 sell 25.32067, PERIOD_19_00 sell 21.30357. Steps of (21.30357-25.32067)/3:
    # PERIOD_17_30 = 25.32067 - 1.33903333 = 23.9816367 -> 0.2398
    # PERIOD_18_00 = 25.32067 - 2.67806667 = 22.6426033 -> 0.2264
    rows = without(load_fixture(), "2025-06-28T18:00", "2025-06-28T18:30", channel="feedIn")
    result = built(build(rows, at(16, 25)))
    assert result.rates.sell_dollars_per_kwh[index_of("PERIOD_17_30")] == Decimal("0.2398")
    assert result.rates.sell_dollars_per_kwh[index_of("PERIOD_18_00")] == Decimal("0.2264")


def test_a_missing_half_hour_at_the_edge_copies_its_neighbour() -> None:
    # At 16:25 the furthest period is PERIOD_15_30 tomorrow (interval ending 2025-06-29 16:00).
    # Without it, it copies PERIOD_15_00 tomorrow (ending 15:30, predicted 50.30037) -> 0.503
    result = built(build(without(load_fixture(), "2025-06-29T16:00"), at(16, 25)))
    assert result.rates.buy_dollars_per_kwh[index_of("PERIOD_15_30")] == Decimal("0.503")
    assert any("copied from the nearest" in note for note in result.notes)


def test_three_consecutive_missing_half_hours_are_refused() -> None:
    rows = without(load_fixture(), "2025-06-28T18:00", "2025-06-28T18:30", "2025-06-28T19:00")
    result = build(rows, at(16, 25))
    assert isinstance(result, Refused)
    assert result.reason == (
        "3 consecutive half-hours without buy prices from PERIOD_17_30; at most 2 may be filled"
    )


def test_more_than_four_missing_half_hours_in_total_are_refused() -> None:
    times = [
        "2025-06-28T18:00",
        "2025-06-28T19:00",
        "2025-06-28T20:00",
        "2025-06-28T21:00",
        "2025-06-28T22:00",
    ]
    result = build(without(load_fixture(), *times), at(16, 25))
    assert isinstance(result, Refused)
    assert result.reason.startswith("5 half-hours without buy prices")


def test_a_partly_covered_half_hour_uses_what_is_there_and_says_so() -> None:
    # Drop the forecast ending 16:30: PERIOD_16_00 = the five 5-min intervals ending 16:05-16:25
    # (53.09602 + 54.96537 + 57.15476 + 57.27074 + 67.06283) / 5
    #   = 289.54972 / 5 = 57.909944 -> 0.5791
    result = built(build(without(load_fixture(), "2025-06-28T16:30"), at(16, 25)))
    assert result.rates.buy_dollars_per_kwh[index_of("PERIOD_16_00")] == Decimal("0.5791")
    assert "PERIOD_16_00 buy: only 25 of 30 min priced" in result.notes


def test_all_zero_buy_prices_are_refused() -> None:
    rows = load_fixture()
    for r in rows:
        if r["channelType"] == "general":
            r["perKwh"] = 0
            if "advancedPrice" in r:
                r["advancedPrice"] = {"low": 0, "predicted": 0, "high": 0}
    result = build(rows, at(16, 25))
    assert isinstance(result, Refused)
    assert "exactly 0" in result.reason


def test_no_feed_in_channel_gives_zero_sell_with_a_note() -> None:
    rows = [r for r in load_fixture() if r["channelType"] == "general"]
    result = built(build(rows, at(16, 25)))
    assert result.rates.sell_dollars_per_kwh == (Decimal(0),) * 48
    assert "no feed-in channel in the data: sell is 0 in every period" in result.notes


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        build(load_fixture(), datetime(2025, 6, 28, 16, 25))
