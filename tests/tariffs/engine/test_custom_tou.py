"""Custom TOU schedules (tariffs.engine.custom_tou): JSON form, validation, expansion, render."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tariffs.engine.custom_tou import (
    ScheduleInvalid,
    TimeWindow,
    format_minute,
    half_hour_rates_for,
    schedule_from_dict,
    schedule_to_dict,
)
from tariffs.engine.tesla_format import (
    parse_tariff_content_v2,
    render_custom_tariff,
    validate_tariff_content_v2,
)

EXAMPLE = Path(__file__).resolve().parent / "data" / "custom_schedule_example.json"


@pytest.fixture
def raw() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


def _simple(windows: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    """One all-year season: PEAK with ``windows`` and OFF_PEAK everywhere else given in extra."""
    periods = [{"name": "PEAK", "buy_c_per_kwh": "40", "windows": windows}]
    periods += extra.pop("periods", [])
    return {
        "name": "Test plan",
        "utility": "Test",
        "seasons": [{"name": "All year", "from": "01-01", "to": "12-31", "periods": periods}],
        **extra,
    }


def test_example_file_loads(raw: dict[str, Any]) -> None:
    schedule = schedule_from_dict(raw)
    assert schedule.name == "Example Energy Two-Season TOU (Ausgrid-style)"
    assert schedule.daily_supply_dollars == Decimal("1.105")  # 110.5 c/day
    summer, winter = schedule.seasons
    assert (summer.from_month, summer.from_day, summer.to_month, summer.to_day) == (11, 1, 3, 31)
    peak = summer.periods[0]
    assert peak.name == "PEAK"
    assert peak.buy_dollars_per_kwh == Decimal("0.528")
    assert peak.sell_dollars_per_kwh == Decimal("0.065")
    assert peak.demand_dollars_per_kw == Decimal("0.3512")
    assert peak.windows == (TimeWindow(0, 4, 14 * 60, 20 * 60),)
    off_peak = summer.periods[2]
    assert off_peak.windows == (TimeWindow(0, 6, 22 * 60, 7 * 60),)  # wraps past midnight
    assert winter.periods[3].sell_dollars_per_kwh == 0  # sell omitted -> 0


def test_expansion_by_hand(raw: dict[str, Any]) -> None:
    schedule = schedule_from_dict(raw)
    # Monday 6 Jan 2025 (summer weekday).
    monday = half_hour_rates_for(schedule, date(2025, 1, 6))
    expected_buy = (
        ["0.2210"] * 14  # 00:00-07:00 off-peak (Sunday 22:00 window spills in)
        + ["0.3135"] * 14  # 07:00-14:00 shoulder
        + ["0.5280"] * 12  # 14:00-20:00 peak
        + ["0.3135"] * 4  # 20:00-22:00 shoulder
        + ["0.2210"] * 4  # 22:00-24:00 off-peak
    )
    assert monday.buy_dollars_per_kwh == tuple(Decimal(value) for value in expected_buy)
    assert monday.sell_dollars_per_kwh[28] == Decimal("0.065")
    # Saturday 11 Jan 2025 (summer weekend): no peak.
    saturday = half_hour_rates_for(schedule, date(2025, 1, 11))
    assert set(saturday.buy_dollars_per_kwh[14:44]) == {Decimal("0.3135")}
    # Wednesday 2 Jul 2025 (winter weekday): super off-peak 22:00-24:00, peak 17:00-21:00.
    winter = half_hour_rates_for(schedule, date(2025, 7, 2))
    assert winter.buy_dollars_per_kwh[44:] == (Decimal("0.1500"),) * 4
    assert winter.buy_dollars_per_kwh[34:42] == (Decimal("0.4840"),) * 8
    assert winter.buy_dollars_per_kwh[:14] == (Decimal("0.2210"),) * 14


def test_render_custom_tariff_has_named_periods_and_validates(raw: dict[str, Any]) -> None:
    content = render_custom_tariff(schedule_from_dict(raw))
    validate_tariff_content_v2(content)
    assert list(content["seasons"]) == ["Summer", "Winter"]
    summer = content["seasons"]["Summer"]
    assert list(summer["tou_periods"]) == ["PEAK", "SHOULDER", "OFF_PEAK"]
    assert summer["tou_periods"]["PEAK"] == {
        "periods": [{"toDayOfWeek": 4, "fromHour": 14, "toHour": 20}]
    }
    assert summer["tou_periods"]["OFF_PEAK"] == {
        "periods": [{"toDayOfWeek": 6, "fromHour": 22, "toHour": 7}]
    }
    assert content["seasons"]["Winter"]["tou_periods"]["SUPER_OFF_PEAK"] == {
        "periods": [{"toDayOfWeek": 6, "fromHour": 22, "toHour": 24}]
    }
    assert content["energy_charges"]["Summer"]["rates"] == {
        "PEAK": 0.528,
        "SHOULDER": 0.3135,
        "OFF_PEAK": 0.221,
    }
    assert content["sell_tariff"]["energy_charges"]["Winter"]["rates"]["OFF_PEAK"] == 0.0
    assert content["demand_charges"]["Summer"] == {"rates": {"PEAK": 0.3512}}
    assert content["demand_charges"]["Winter"] == {}
    assert content["daily_charges"] == [{"name": "Charge", "amount": 1.105}]
    assert content["code"] == "EXAMPLE_TOU"


def test_read_back_of_rendered_custom_tariff_is_the_same_schedule(raw: dict[str, Any]) -> None:
    schedule = schedule_from_dict(raw)
    back = parse_tariff_content_v2(json.loads(json.dumps(render_custom_tariff(schedule))))
    assert back.seasons == schedule.seasons
    assert back.daily_supply_dollars == schedule.daily_supply_dollars
    assert (back.name, back.utility, back.code) == (schedule.name, schedule.utility, schedule.code)


def test_schedule_to_dict_round_trips(raw: dict[str, Any]) -> None:
    schedule = schedule_from_dict(raw)
    assert schedule_from_dict(json.loads(json.dumps(schedule_to_dict(schedule)))) == schedule


def test_rates_with_more_than_four_dollar_decimals_are_rounded_when_rendered() -> None:
    raw = _simple([{"days": "all", "from": "00:00", "to": "00:00"}])
    raw["seasons"][0]["periods"][0]["buy_c_per_kwh"] = "35.695"  # 0.35695 $/kWh
    content = render_custom_tariff(schedule_from_dict(raw))
    assert content["energy_charges"]["All year"]["rates"]["PEAK"] == 0.357
    validate_tariff_content_v2(content)


# --- errors ----------------------------------------------------------------------------------


def test_gap_names_season_day_and_time(raw: dict[str, Any]) -> None:
    shoulder = raw["seasons"][0]["periods"][1]
    shoulder["windows"][2]["from"] = "08:00"  # weekends 07:00-08:00 now uncovered
    with pytest.raises(
        ScheduleInvalid,
        match=r"season 'Summer', Saturday: 07:00-08:00 is not covered by any period",
    ):
        schedule_from_dict(raw)


def test_overlap_names_both_periods(raw: dict[str, Any]) -> None:
    raw["seasons"][1]["periods"][0]["windows"][0]["from"] = "16:00"  # winter peak from 16:00
    with pytest.raises(
        ScheduleInvalid,
        match=r"season 'Winter', Monday: 16:00-17:00 is covered by both SHOULDER and PEAK",
    ):
        schedule_from_dict(raw)


def test_window_that_does_not_reach_midnight(raw: dict[str, Any]) -> None:
    raw["seasons"][1]["periods"][2]["windows"][0]["to"] = "23:30"
    with pytest.raises(ScheduleInvalid, match=r"'Winter', Monday: 23:30-24:00 is not covered"):
        schedule_from_dict(raw)


def test_season_dates_gap(raw: dict[str, Any]) -> None:
    raw["seasons"][1]["to"] = "10-30"
    with pytest.raises(ScheduleInvalid, match="dates not covered by any season: 31 Oct"):
        schedule_from_dict(raw)


def test_season_dates_overlap(raw: dict[str, Any]) -> None:
    raw["seasons"][1]["from"] = "03-30"
    with pytest.raises(ScheduleInvalid, match="30 Mar is in more than one season"):
        schedule_from_dict(raw)


def test_single_whole_day_window_is_valid() -> None:
    schedule = schedule_from_dict(_simple([{"days": "all", "from": "00:00", "to": "24:00"}]))
    assert schedule.seasons[0].periods[0].windows == (TimeWindow(0, 6, 0, 1440),)
    same = schedule_from_dict(_simple([{"days": "all", "from": "00:00", "to": "00:00"}]))
    assert same == schedule


def test_week_wrapping_day_range() -> None:
    raw = _simple(
        [{"days": "fri-mon", "from": "00:00", "to": "24:00"}],
        periods=[
            {
                "name": "OFF_PEAK",
                "buy_dollars_per_kwh": 0.2,
                "windows": [{"days": "tue-thu", "from": "00:00", "to": "24:00"}],
            }
        ],
    )
    schedule = schedule_from_dict(raw)
    assert schedule.seasons[0].periods[0].windows[0].days == (4, 5, 6, 0)
    monday = half_hour_rates_for(schedule, date(2025, 6, 30))
    tuesday = half_hour_rates_for(schedule, date(2025, 7, 1))
    assert set(monday.buy_dollars_per_kwh) == {Decimal("0.4")}
    assert set(tuesday.buy_dollars_per_kwh) == {Decimal("0.2")}


def test_half_hour_split_by_a_window_boundary_is_averaged() -> None:
    raw = _simple(
        [{"days": "all", "from": "00:00", "to": "17:15"}],
        periods=[
            {
                "name": "OFF_PEAK",
                "buy_c_per_kwh": "20",
                "sell_c_per_kwh": "10",
                "windows": [{"days": "all", "from": "17:15", "to": "00:00"}],
            }
        ],
    )
    rates = half_hour_rates_for(schedule_from_dict(raw), date(2025, 1, 1))
    assert rates.buy_dollars_per_kwh[34] == Decimal("0.3000")  # (0.40 + 0.20) / 2
    assert rates.sell_dollars_per_kwh[34] == Decimal("0.0500")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("name"), r"schedule: 'name' is required"),
        (lambda r: r.update(currency="USD"), "currency 'USD' is not AUD"),
        (
            lambda r: r["seasons"][0].update(to="02-30"),
            r"seasons\[0\].to: '02-30' is not a calendar",
        ),
        (lambda r: r["seasons"][0].update(to="1231"), r"'1231' is not MM-DD"),
        (
            lambda r: r["seasons"][0]["periods"][0]["windows"][0].update({"from": "7:00"}),
            r"seasons\[0\].periods\[0\].windows\[0\].from: '7:00' is not HH:MM",
        ),
        (
            lambda r: r["seasons"][0]["periods"][0]["windows"][0].update({"from": "24:00"}),
            "'24:00' is not a time of day",
        ),
        (
            lambda r: r["seasons"][0]["periods"][0]["windows"][0].update({"days": "funday"}),
            "'funday' is not a day of the week",
        ),
        (
            lambda r: r["seasons"][0]["periods"][0].update(buy_dollars_per_kwh="0.5"),
            "give 'buy_dollars_per_kwh' or 'buy_c_per_kwh', not both",
        ),
        (
            lambda r: r["seasons"][0]["periods"][0].pop("buy_c_per_kwh"),
            "'buy_dollars_per_kwh' or 'buy_c_per_kwh' is required",
        ),
        (
            lambda r: r["seasons"][0]["periods"][0].update(sell_c_per_kwh="-3"),
            r"season 'All year', period 'PEAK' sell rate: -0.03 is negative",
        ),
        (
            lambda r: r["seasons"][0]["periods"][0].update(buy_c_per_kwh="NaN"),
            "'NaN' is not finite",
        ),
        (
            lambda r: r["seasons"][0]["periods"][0].update(buy_c_per_kwh=True),
            "True is not a number",
        ),
        (
            lambda r: r["seasons"][0]["periods"][0].update(name="all"),
            "the name 'ALL' is reserved by Tesla",
        ),
        (lambda r: r["seasons"][0].update(name="ALL"), "season name 'ALL' is reserved"),
        (
            lambda r: r["seasons"].append(copy.deepcopy(r["seasons"][0])),
            "season name 'All year' is used twice",
        ),
        (lambda r: r["seasons"][0]["periods"][0].update(windows=[]), "no time window"),
        (lambda r: r.update(seasons=[]), "schedule has no season"),
        (lambda r: r.update(seasons={}), "seasons: expected a list, got dict"),
    ],
)
def test_json_form_errors(mutate: Any, message: str) -> None:
    raw = _simple([{"days": "all", "from": "00:00", "to": "00:00"}])
    mutate(raw)
    with pytest.raises(ScheduleInvalid, match=message):
        schedule_from_dict(raw)


def test_duplicate_period_name_rejected() -> None:
    raw = _simple(
        [{"days": "weekdays", "from": "00:00", "to": "00:00"}],
        periods=[
            {
                "name": "PEAK",
                "buy_c_per_kwh": "1",
                "windows": [{"days": "weekends", "from": "00:00", "to": "00:00"}],
            }
        ],
    )
    with pytest.raises(ScheduleInvalid, match="period 'PEAK': the name is used twice"):
        schedule_from_dict(raw)


def test_expansion_outside_any_season_is_an_error(raw: dict[str, Any]) -> None:
    schedule = schedule_from_dict(raw)
    only_summer = type(schedule)(
        name=schedule.name, utility=schedule.utility, seasons=schedule.seasons[:1]
    )
    with pytest.raises(ScheduleInvalid, match=r"no season of .* covers 2025-07-01"):
        half_hour_rates_for(only_summer, date(2025, 7, 1))


# --- properties ------------------------------------------------------------------------------

_PERIOD_NAMES = ("PEAK", "SHOULDER", "OFF_PEAK", "SUPER_OFF_PEAK")
_YEAR_DAYS = [date(2023, 1, 1) + timedelta(days=offset) for offset in range(365)]  # no 29 Feb


@st.composite
def _day_windows(draw: st.DrawFn, days: str, allow_wrap: bool) -> list[tuple[str, str, int, int]]:
    """A partition of one day type into (period, days, start, end) windows on 30-min cuts."""
    cuts = sorted(draw(st.sets(st.integers(1, 47), max_size=6)))
    bounds = [0, *(cut * 30 for cut in cuts), 1440]
    rotation = draw(st.integers(0, 47)) * 30 if allow_wrap else 0
    windows = []
    for start, end in itertools.pairwise(bounds):
        name = draw(st.sampled_from(_PERIOD_NAMES))
        windows.append((name, days, (start + rotation) % 1440, (end + rotation) % 1440))
    return windows


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid schedule in its JSON form."""
    starts = sorted(draw(st.sets(st.sampled_from(_YEAR_DAYS), min_size=1, max_size=3)))
    seasons = []
    for index, start in enumerate(starts):
        following = starts[(index + 1) % len(starts)]
        end = date(2024, following.month, following.day) - timedelta(days=1)  # leap-aware
        layout = draw(st.sampled_from(["all", "split", "fri-mon"]))
        if layout == "all":
            windows = draw(_day_windows("all", allow_wrap=True))
        elif layout == "split":
            windows = draw(_day_windows("weekdays", False)) + draw(_day_windows("weekends", False))
        else:
            windows = draw(_day_windows("fri-mon", False)) + draw(_day_windows("tue-thu", False))
        periods = []
        for name in _PERIOD_NAMES:
            mine = [window for window in windows if window[0] == name]
            if not mine:
                continue
            cents = st.decimals(min_value=0, max_value=500, places=2)
            periods.append(
                {
                    "name": name,
                    "buy_c_per_kwh": str(draw(cents)),
                    "sell_c_per_kwh": str(draw(cents)),
                    "windows": [
                        {"days": days, "from": format_minute(s), "to": format_minute(e or 1440)}
                        for _, days, s, e in mine
                    ],
                }
            )
        seasons.append(
            {
                "name": f"Season {index}",
                "from": f"{start.month:02d}-{start.day:02d}",
                "to": f"{end.month:02d}-{end.day:02d}",
                "periods": periods,
            }
        )
    return {"name": "Random plan", "utility": "Random", "seasons": seasons}


@settings(max_examples=60, deadline=None)
@given(raw=schedules(), day=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
def test_random_valid_schedules(raw: dict[str, Any], day: date) -> None:
    schedule = schedule_from_dict(raw)  # validates
    season = schedule.season_for(day)
    rates = half_hour_rates_for(schedule, day)
    assert len(rates.buy_dollars_per_kwh) == len(rates.sell_dollars_per_kwh) == 48
    # Each half-hour takes the rate of the one period in force at its start (30-min cuts).
    for index in range(48):
        minute = index * 30
        (period,) = {
            period
            for start, end, period in season.segments_on(day.weekday())
            if start <= minute < end
        }
        assert rates.buy_dollars_per_kwh[index] == period.buy_dollars_per_kwh.quantize(
            Decimal("0.0001")
        )
    content = render_custom_tariff(schedule)
    validate_tariff_content_v2(content)
    back = parse_tariff_content_v2(json.loads(json.dumps(content)))
    assert back.seasons == schedule.seasons
