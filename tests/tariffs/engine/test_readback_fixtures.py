"""Reading back real Tesla tariffs (tests/fixtures/tesla, provenance in SOURCES.md).

Expected values are read off the fixture files by hand.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tariffs.engine.custom_tou import (
    ScheduleInvalid,
    TimeWindow,
    TouSchedule,
    half_hour_rates_for,
    validate_schedule,
)
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.tesla_format import (
    TariffInvalid,
    parse_tariff_content_v2,
    render_schedule,
    unwrap_tariff_content_v2,
    validate_tariff_content_v2,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tesla"
TARIFF_FIXTURES = [
    "site_info_tariff_content_v2_flow_power_au.json",
    "teslemetry_site_info_multi_season.json",
    "teslemetry_site_info_week_crossing.json",
    "time_of_use_settings_request_globird_48x30min.json",
    "owner_api_tariff_rate_v1_amber.json",
]
# Dates across both halves of the year and all weekdays (2025-06-30 is a Monday).
SAMPLE_DATES = [date(2025, 6, 30) + timedelta(days=offset) for offset in range(7)] + [
    date(2025, 1, 1),
    date(2025, 3, 31),
    date(2025, 4, 1),
    date(2025, 10, 1),
    date(2024, 2, 29),
    date(2025, 12, 31),
]


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _period(schedule: TouSchedule, season: str, name: str):
    (found,) = [
        period
        for candidate in schedule.seasons
        if candidate.name == season
        for period in candidate.periods
        if period.name == name
    ]
    return found


@pytest.mark.parametrize("name", TARIFF_FIXTURES)
def test_every_fixture_parses(name: str) -> None:
    schedule = parse_tariff_content_v2(_load(name))
    assert schedule.seasons
    assert all(season.periods for season in schedule.seasons)


def test_flow_power_sample() -> None:
    schedule = parse_tariff_content_v2(_load("site_info_tariff_content_v2_flow_power_au.json"))
    assert [season.name for season in schedule.seasons] == ["Summer"]
    assert schedule.notes == ("skipped empty season 'Winter'",)
    assert (schedule.name, schedule.utility, schedule.currency) == (
        "Flow Power (PowerSync)",
        "Flow Power",
        "AUD",
    )
    assert schedule.daily_supply_dollars == 0
    summer = schedule.seasons[0]
    assert (summer.from_month, summer.from_day, summer.to_month, summer.to_day) == (1, 1, 12, 31)
    assert len(summer.periods) == 48
    # {"toDayOfWeek": 6, "toMinute": 30} is Mon-Sun 00:00-00:30.
    assert _period(schedule, "Summer", "PERIOD_00_00").windows == (TimeWindow(0, 6, 0, 30),)
    # {"toDayOfWeek": 6, "fromHour": 23, "fromMinute": 30, "toHour": 24}
    assert _period(schedule, "Summer", "PERIOD_23_30").windows == (TimeWindow(0, 6, 1410, 1440),)
    rates = half_hour_rates_for(schedule, date(2025, 6, 28))
    assert rates.buy_dollars_per_kwh[0] == Decimal("0.24")
    assert rates.buy_dollars_per_kwh[12] == Decimal("0.31")  # PERIOD_06_00
    assert rates.buy_dollars_per_kwh[32] == Decimal("0.42")  # PERIOD_16_00
    assert rates.buy_dollars_per_kwh[42] == Decimal("0.31")  # PERIOD_21_00
    # Happy hour: 0.45 for PERIOD_17_00 .. PERIOD_18_00, 0 elsewhere.
    assert [index for index, value in enumerate(rates.sell_dollars_per_kwh) if value] == [
        34,
        35,
        36,
    ]
    assert rates.sell_dollars_per_kwh[34] == Decimal("0.45")
    validate_schedule(schedule)


def test_flow_power_sample_passes_our_validator() -> None:
    validate_tariff_content_v2(
        unwrap_tariff_content_v2(_load("site_info_tariff_content_v2_flow_power_au.json"))
    )


def test_multi_season_with_midnight_wrapping_off_peak() -> None:
    schedule = parse_tariff_content_v2(_load("teslemetry_site_info_multi_season.json"))
    assert [season.name for season in schedule.seasons] == ["Summer", "Winter"]
    # Winter is 1 Oct .. 31 Mar, wrapping the year.
    assert schedule.season_for(date(2025, 1, 15)).name == "Winter"
    assert schedule.season_for(date(2025, 7, 15)).name == "Summer"
    assert schedule.currency == "AUD"  # absent in the fixture: AUD assumed
    off_peak = _period(schedule, "Summer", "OFF_PEAK")
    assert off_peak.windows == (TimeWindow(0, 6, 21 * 60, 16 * 60),)
    assert (off_peak.buy_dollars_per_kwh, off_peak.sell_dollars_per_kwh) == (
        Decimal("0.2"),
        Decimal("0.08"),
    )
    july = half_hour_rates_for(schedule, date(2025, 7, 15))
    assert july.buy_dollars_per_kwh[31] == Decimal("0.2")  # 15:30 off-peak
    assert july.buy_dollars_per_kwh[32] == Decimal("0.35")  # 16:00 peak
    assert july.buy_dollars_per_kwh[42] == Decimal("0.2")  # 21:00 off-peak
    january = half_hour_rates_for(schedule, date(2025, 1, 15))
    assert january.buy_dollars_per_kwh[33] == Decimal("0.12")  # 16:30 winter off-peak
    assert january.buy_dollars_per_kwh[34] == Decimal("0.25")  # 17:00 winter peak
    assert january.sell_dollars_per_kwh[34] == Decimal("0.12")
    validate_schedule(schedule)


def test_week_crossing_range_wraps_friday_to_monday() -> None:
    schedule = parse_tariff_content_v2(_load("teslemetry_site_info_week_crossing.json"))
    weekend = _period(schedule, "Summer", "WEEKEND")
    # fromDayOfWeek 4 -> toDayOfWeek 0, fromHour 0 -> toHour 0: all of Fri, Sat, Sun, Mon.
    assert weekend.windows == (TimeWindow(4, 0, 0, 1440),)
    assert weekend.windows[0].days == (4, 5, 6, 0)
    friday, monday, tuesday = date(2025, 7, 4), date(2025, 6, 30), date(2025, 7, 1)
    for day in (friday, monday):
        rates = half_hour_rates_for(schedule, day)
        assert set(rates.buy_dollars_per_kwh) == {Decimal("0.15")}
        assert set(rates.sell_dollars_per_kwh) == {Decimal("0.05")}
    with pytest.raises(ScheduleInvalid, match="Tuesday 00:00-00:30 is not fully covered"):
        half_hour_rates_for(schedule, tuesday)
    # The fixture leaves Tue-Thu unpriced: a faithful read-back, but not a valid schedule.
    with pytest.raises(ScheduleInvalid, match="Tuesday: 00:00-24:00 is not covered"):
        validate_schedule(schedule)


def test_globird_request_with_season_all_and_hhmm_names() -> None:
    schedule = parse_tariff_content_v2(_load("time_of_use_settings_request_globird_48x30min.json"))
    assert [season.name for season in schedule.seasons] == ["ALL"]
    assert schedule.currency == "USD"
    assert schedule.daily_supply_dollars == Decimal("1.1")
    # "2330": fromHour 23, fromMinute 30 -> toHour 0, toMinute 0 (written explicitly).
    assert _period(schedule, "ALL", "2330").windows == (TimeWindow(0, 6, 1410, 1440),)
    rates = half_hour_rates_for(schedule, date(2025, 6, 29))
    assert rates.buy_dollars_per_kwh[36] == Decimal("4.0")  # "1800" critical peak
    assert rates.buy_dollars_per_kwh[22] == Decimal("0.0")  # "1100" free
    assert rates.sell_dollars_per_kwh[0] == Decimal("0.05")
    with pytest.raises(TariffInvalid, match="currency: 'USD', expected AUD"):
        validate_tariff_content_v2(
            unwrap_tariff_content_v2(_load("time_of_use_settings_request_globird_48x30min.json"))
        )


def test_legacy_v1_owner_api_tariff() -> None:
    schedule = parse_tariff_content_v2(_load("owner_api_tariff_rate_v1_amber.json"))
    assert [season.name for season in schedule.seasons] == ["Summer"]
    on_peak = _period(schedule, "Summer", "ON_PEAK")
    assert on_peak.windows == (TimeWindow(0, 6, 330, 420), TimeWindow(0, 6, 1020, 1200))
    assert (on_peak.buy_dollars_per_kwh, on_peak.sell_dollars_per_kwh) == (
        Decimal("0.43"),
        Decimal("0.3"),
    )
    off_peak = _period(schedule, "Summer", "OFF_PEAK")
    assert TimeWindow(0, 6, 20 * 60, 5 * 60 + 30) in off_peak.windows  # 20:00 -> 05:30
    rates = half_hour_rates_for(schedule, date(2025, 6, 30))
    assert rates.buy_dollars_per_kwh[0] == Decimal("0.01")
    assert rates.buy_dollars_per_kwh[11] == Decimal("0.43")  # 05:30
    assert rates.sell_dollars_per_kwh[14] == Decimal("0.1")  # 07:00 partial peak
    validate_schedule(schedule)


def test_site_info_without_tariff_is_a_clear_error() -> None:
    with pytest.raises(TariffInvalid, match="'response' holds no tariff_content_v2"):
        parse_tariff_content_v2(_load("teslemetry_site_info.json"))


def _semantics(schedule: TouSchedule) -> list[Any]:
    """Rates of every sample date that some season covers (None where not fully covered)."""
    result: list[Any] = []
    for day in SAMPLE_DATES:
        try:
            result.append(half_hour_rates_for(schedule, day))
        except ScheduleInvalid:
            result.append(None)
    return result


@pytest.mark.parametrize("name", TARIFF_FIXTURES)
def test_render_of_parse_round_trips(name: str) -> None:
    original = _load(name)
    schedule = parse_tariff_content_v2(original)
    rendered = json.loads(json.dumps(render_schedule(schedule)))
    again = parse_tariff_content_v2(rendered)
    assert again.seasons == schedule.seasons
    assert again.daily_supply_dollars == schedule.daily_supply_dollars
    assert _semantics(again) == _semantics(schedule)
    assert tariff_fingerprint(rendered) == tariff_fingerprint(original)


@pytest.mark.parametrize(
    "name",
    [
        "site_info_tariff_content_v2_flow_power_au.json",
        "teslemetry_site_info_multi_season.json",
        "owner_api_tariff_rate_v1_amber.json",
    ],
)
def test_rendered_read_back_of_complete_fixtures_validates(name: str) -> None:
    validate_tariff_content_v2(render_schedule(parse_tariff_content_v2(_load(name))))
