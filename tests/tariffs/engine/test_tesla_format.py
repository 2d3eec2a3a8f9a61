"""Rendering and validating ``tariff_content_v2`` (tariffs.engine.tesla_format)."""

from __future__ import annotations

import copy
import json
import math
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tariffs.engine.custom_tou import half_hour_rates_for
from tariffs.engine.model import HalfHourRates
from tariffs.engine.tesla_format import (
    TariffInvalid,
    parse_tariff_content_v2,
    render_half_hour_tariff,
    validate_tariff_content_v2,
)


def _rates(buy: list[str] | None = None, sell: list[str] | None = None) -> HalfHourRates:
    buy = buy or [f"0.{2000 + index:04d}" for index in range(48)]  # 0.2, 0.2001 ... 0.2047
    sell = sell or ["0.05"] * 48
    return HalfHourRates(
        buy_dollars_per_kwh=tuple(Decimal(value) for value in buy),
        sell_dollars_per_kwh=tuple(Decimal(value) for value in sell),
    )


@pytest.fixture
def tariff() -> dict[str, Any]:
    return render_half_hour_tariff(_rates(), plan_name="Amber (PowerSync)", utility="Amber")


def _entries(content: dict[str, Any], period: str, side: str = "buy") -> list[dict[str, int]]:
    seasons = content["seasons"] if side == "buy" else content["sell_tariff"]["seasons"]
    return seasons["Summer"]["tou_periods"][period]["periods"]


# --- rendering -------------------------------------------------------------------------------


def test_render_has_the_shape_of_the_real_flow_power_tariff(tariff: dict[str, Any]) -> None:
    assert tariff["version"] == 1
    assert tariff["currency"] == "AUD"
    assert tariff["name"] == "Amber (PowerSync)"
    assert tariff["utility"] == "Amber"
    assert tariff["daily_charges"] == [{"name": "Charge"}]
    assert tariff["energy_charges"]["ALL"] == {"rates": {"ALL": 0}}
    assert tariff["demand_charges"] == {"ALL": {"rates": {"ALL": 0}}, "Summer": {}}
    season = tariff["seasons"]["Summer"]
    assert (season["fromMonth"], season["fromDay"], season["toMonth"], season["toDay"]) == (
        1,
        1,
        12,
        31,
    )
    assert list(tariff["seasons"]) == ["Summer"]
    assert len(season["tou_periods"]) == 48
    assert list(season["tou_periods"])[:2] == ["PERIOD_00_00", "PERIOD_00_30"]


def test_render_entries_omit_zero_fields_like_tesla(tariff: dict[str, Any]) -> None:
    # The same entries as tests/fixtures/tesla/site_info_tariff_content_v2_flow_power_au.json.
    assert _entries(tariff, "PERIOD_00_00") == [{"toDayOfWeek": 6, "toMinute": 30}]
    assert _entries(tariff, "PERIOD_00_30") == [{"toDayOfWeek": 6, "fromMinute": 30, "toHour": 1}]
    assert _entries(tariff, "PERIOD_01_00") == [
        {"toDayOfWeek": 6, "fromHour": 1, "toHour": 1, "toMinute": 30}
    ]


def test_render_writes_midnight_end_as_to_hour_24(tariff: dict[str, Any]) -> None:
    # batpred #4410: an omitted day-end toHour made Tesla report a 24 h coverage error.
    assert _entries(tariff, "PERIOD_23_30") == [
        {"toDayOfWeek": 6, "fromHour": 23, "fromMinute": 30, "toHour": 24}
    ]


def test_render_puts_buy_in_energy_charges_and_export_in_sell_tariff(
    tariff: dict[str, Any],
) -> None:
    buy = tariff["energy_charges"]["Summer"]["rates"]
    sell = tariff["sell_tariff"]["energy_charges"]["Summer"]["rates"]
    assert buy["PERIOD_00_00"] == 0.2
    assert buy["PERIOD_17_30"] == 0.2035
    assert buy["PERIOD_23_30"] == 0.2047
    assert set(sell.values()) == {0.05}
    assert tariff["sell_tariff"]["seasons"] == tariff["seasons"]
    assert tariff["sell_tariff"]["seasons"] is not tariff["seasons"]


def test_render_numbers_are_json_numbers_with_at_most_four_decimals() -> None:
    rates = _rates(buy=["0.19900"] * 47 + ["1.00005"], sell=["0"] * 48)
    content = render_half_hour_tariff(rates, plan_name="p", utility="u")
    text = json.dumps(content)
    assert '"PERIOD_00_00": 0.199' in text
    assert content["energy_charges"]["Summer"]["rates"]["PERIOD_23_30"] == 1.0001  # half-up
    assert content["sell_tariff"]["energy_charges"]["Summer"]["rates"]["PERIOD_00_00"] == 0.0
    validate_tariff_content_v2(content)


def test_render_rejects_a_negative_rate() -> None:
    rates = _rates(sell=["0.05"] * 10 + ["-0.01"] + ["0.05"] * 37)
    with pytest.raises(TariffInvalid, match=r"sell rate of PERIOD_05_00 is negative"):
        render_half_hour_tariff(rates, plan_name="p", utility="u")


def test_rendered_tariff_validates_and_reads_back_to_the_same_rates(
    tariff: dict[str, Any],
) -> None:
    validate_tariff_content_v2(tariff)
    schedule = parse_tariff_content_v2(json.loads(json.dumps(tariff)))
    assert half_hour_rates_for(schedule, date(2025, 6, 28)) == _rates()


def test_sell_above_buy_is_accepted() -> None:
    # SPEC §4.9: Tesla accepts sell above buy today.
    content = render_half_hour_tariff(
        _rates(buy=["0.1"] * 48, sell=["0.45"] * 48), plan_name="p", utility="u"
    )
    validate_tariff_content_v2(content)


# --- validation rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["version", "code", "name", "utility", "currency", "seasons", "sell_tariff"]
)
def test_missing_required_field(tariff: dict[str, Any], field: str) -> None:
    del tariff[field]
    with pytest.raises(TariffInvalid, match=rf"missing required field\(s\): {field}"):
        validate_tariff_content_v2(tariff)


def test_currency_must_be_aud(tariff: dict[str, Any]) -> None:
    tariff["currency"] = "USD"
    with pytest.raises(TariffInvalid, match="currency: 'USD', expected AUD"):
        validate_tariff_content_v2(tariff)


def test_version_must_be_1(tariff: dict[str, Any]) -> None:
    tariff["version"] = 2
    with pytest.raises(TariffInvalid, match="version: 2, expected 1"):
        validate_tariff_content_v2(tariff)


def test_empty_name_rejected(tariff: dict[str, Any]) -> None:
    tariff["name"] = " "
    with pytest.raises(TariffInvalid, match="name: expected a non-empty string"):
        validate_tariff_content_v2(tariff)


def test_a_missing_half_hour_is_a_gap(tariff: dict[str, Any]) -> None:
    del tariff["seasons"]["Summer"]["tou_periods"]["PERIOD_07_30"]
    with pytest.raises(
        TariffInvalid,
        match=r"seasons: season 'Summer', Monday: 07:30-08:00 is not covered by any period",
    ):
        validate_tariff_content_v2(tariff)


def test_an_overlap_is_named(tariff: dict[str, Any]) -> None:
    _entries(tariff, "PERIOD_10_00")[0]["toHour"] = 11  # 10:00-11:00 now overlaps PERIOD_10_30
    with pytest.raises(
        TariffInvalid,
        match=r"Monday: 10:30-11:00 is covered by both PERIOD_10_00 and PERIOD_10_30",
    ):
        validate_tariff_content_v2(tariff)


def test_a_gap_on_one_weekday_only(tariff: dict[str, Any]) -> None:
    _entries(tariff, "PERIOD_12_00")[0]["toDayOfWeek"] = 5  # no longer on Sunday
    with pytest.raises(TariffInvalid, match=r"Sunday: 12:00-12:30 is not covered"):
        validate_tariff_content_v2(tariff)


def test_omitted_day_end_is_rejected(tariff: dict[str, Any]) -> None:
    # batpred #4410: {"fromHour": 23, "fromMinute": 30} with no toHour/toMinute was refused.
    entry = _entries(tariff, "PERIOD_23_30")[0]
    del entry["toHour"]
    with pytest.raises(TariffInvalid, match="end time is omitted; write toHour 24"):
        validate_tariff_content_v2(tariff)


def test_explicit_to_hour_zero_at_midnight_is_accepted(tariff: dict[str, Any]) -> None:
    # The real Globird request writes 23:30-00:00 as toHour 0, toMinute 0.
    entry = _entries(tariff, "PERIOD_23_30")[0]
    entry["toHour"] = 0
    validate_tariff_content_v2(tariff)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("toHour", 25, "toHour: 25 is outside 0..24"),
        ("fromHour", 24, "fromHour: 24 is outside 0..23"),
        ("fromDayOfWeek", 7, "fromDayOfWeek: 7 is outside 0..6"),
        ("fromMinute", 60, "fromMinute: 60 is outside 0..59"),
        ("toMinute", 1.5, "toMinute: 1.5 is not an integer"),
        ("fromHour", True, "fromHour: True is not an integer"),
        ("dayOfWeek", 1, "unknown field"),
    ],
)
def test_entry_fields_are_checked(
    tariff: dict[str, Any], key: str, value: object, message: str
) -> None:
    _entries(tariff, "PERIOD_05_00")[0][key] = value  # type: ignore[assignment]
    with pytest.raises(TariffInvalid, match=message):
        validate_tariff_content_v2(tariff)


def test_to_hour_24_needs_minute_zero(tariff: dict[str, Any]) -> None:
    _entries(tariff, "PERIOD_23_30")[0]["toMinute"] = 30
    with pytest.raises(TariffInvalid, match="toHour 24 needs toMinute 0"):
        validate_tariff_content_v2(tariff)


def test_every_period_needs_a_buy_rate(tariff: dict[str, Any]) -> None:
    del tariff["energy_charges"]["Summer"]["rates"]["PERIOD_08_00"]
    with pytest.raises(
        TariffInvalid, match=r"energy_charges.Summer.rates: no rate for PERIOD_08_00"
    ):
        validate_tariff_content_v2(tariff)


def test_every_period_needs_a_sell_rate(tariff: dict[str, Any]) -> None:
    del tariff["sell_tariff"]["energy_charges"]["Summer"]["rates"]["PERIOD_08_00"]
    with pytest.raises(
        TariffInvalid, match=r"sell_tariff.energy_charges.Summer.rates: no rate for PERIOD_08_00"
    ):
        validate_tariff_content_v2(tariff)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-0.01, "is negative; Tesla rejects negative rates"),
        (math.nan, "is not finite"),
        (math.inf, "is not finite"),
        ("0.2", "is not a JSON number"),
        (True, "is not a JSON number"),
        (None, "is not a JSON number"),
        (0.12345, "has more than 4 decimals"),
        (0.1 + 0.2, "has more than 4 decimals"),
    ],
)
def test_rates_must_be_finite_non_negative_numbers(
    tariff: dict[str, Any], value: object, message: str
) -> None:
    tariff["energy_charges"]["Summer"]["rates"]["PERIOD_09_00"] = value
    with pytest.raises(TariffInvalid, match=message):
        validate_tariff_content_v2(tariff)


def test_sell_rates_are_checked_too(tariff: dict[str, Any]) -> None:
    tariff["sell_tariff"]["energy_charges"]["Summer"]["rates"]["PERIOD_09_00"] = -1
    with pytest.raises(
        TariffInvalid, match=r"sell_tariff.energy_charges.Summer.rates.PERIOD_09_00"
    ):
        validate_tariff_content_v2(tariff)


def test_negative_daily_charge_rejected(tariff: dict[str, Any]) -> None:
    tariff["daily_charges"] = [{"name": "Charge", "amount": -1}]
    with pytest.raises(TariffInvalid, match=r"daily_charges\[0\].amount: -1 is negative"):
        validate_tariff_content_v2(tariff)


def test_negative_optional_scalar_rejected(tariff: dict[str, Any]) -> None:
    tariff["monthly_charges"] = -2.0
    with pytest.raises(TariffInvalid, match=r"monthly_charges: -2\.0 is negative"):
        validate_tariff_content_v2(tariff)


def test_sell_seasons_must_match_buy_seasons(tariff: dict[str, Any]) -> None:
    sell = tariff["sell_tariff"]
    sell["seasons"]["Allyear"] = sell["seasons"].pop("Summer")
    with pytest.raises(TariffInvalid, match=r"sell_tariff.seasons \['Allyear'\] differ"):
        validate_tariff_content_v2(tariff)


def test_sell_periods_must_match_buy_periods() -> None:
    content = render_half_hour_tariff(_rates(), plan_name="p", utility="u")
    periods = content["sell_tariff"]["seasons"]["Summer"]["tou_periods"]
    periods["EXPORT_00_00"] = periods.pop("PERIOD_00_00")
    content["sell_tariff"]["energy_charges"]["Summer"]["rates"]["EXPORT_00_00"] = 0.05
    with pytest.raises(TariffInvalid, match=r"periods \['EXPORT_00_00', 'PERIOD_00_00'\]"):
        validate_tariff_content_v2(content)


def test_half_hour_tariff_needs_48_periods(tariff: dict[str, Any]) -> None:
    # Widen PERIOD_00_00 to cover 00:30 too and drop PERIOD_00_30: coverage stays whole.
    del tariff["seasons"]["Summer"]["tou_periods"]["PERIOD_00_30"]
    _entries(tariff, "PERIOD_00_00")[0].update({"toHour": 1, "toMinute": 0})
    with pytest.raises(TariffInvalid, match="47 half-hour periods, expected 48"):
        validate_tariff_content_v2(tariff)


def test_half_hour_period_must_cover_its_own_slot(tariff: dict[str, Any]) -> None:
    periods = tariff["seasons"]["Summer"]["tou_periods"]
    periods["PERIOD_01_00"], periods["PERIOD_01_30"] = (
        periods["PERIOD_01_30"],
        periods["PERIOD_01_00"],
    )
    with pytest.raises(
        TariffInvalid, match="PERIOD_01_30: does not cover exactly its half-hour on day 0"
    ):
        validate_tariff_content_v2(tariff)


def test_empty_placeholder_season_is_accepted(tariff: dict[str, Any]) -> None:
    # The Flow Power sample carries "Winter": {}; the v1 Amber one has all-zero dates.
    tariff["seasons"]["Winter"] = {}
    tariff["sell_tariff"]["seasons"]["Winter"] = {
        "fromDay": 0,
        "toDay": 0,
        "fromMonth": 0,
        "toMonth": 0,
        "tou_periods": {},
    }
    tariff["energy_charges"]["Winter"] = {}
    validate_tariff_content_v2(tariff)


def _two_seasons(tariff: dict[str, Any], first_to: tuple[int, int], second_from: tuple[int, int]):
    for side in (tariff, tariff["sell_tariff"]):
        summer = side["seasons"]["Summer"]
        summer["toMonth"], summer["toDay"] = first_to
        winter = copy.deepcopy(summer)
        winter.update(
            {"fromMonth": second_from[0], "fromDay": second_from[1], "toMonth": 12, "toDay": 31}
        )
        side["seasons"]["Winter"] = winter
        side["energy_charges"]["Winter"] = copy.deepcopy(side["energy_charges"]["Summer"])


def test_season_dates_must_not_leave_a_gap(tariff: dict[str, Any]) -> None:
    _two_seasons(tariff, (3, 31), (4, 2))
    with pytest.raises(TariffInvalid, match="dates not covered by any season: 1 Apr"):
        validate_tariff_content_v2(tariff)


def test_season_dates_must_not_overlap(tariff: dict[str, Any]) -> None:
    _two_seasons(tariff, (4, 1), (4, 1))
    with pytest.raises(TariffInvalid, match="1 Apr is in more than one season: 'Summer', 'Winter'"):
        validate_tariff_content_v2(tariff)


def test_two_adjacent_seasons_are_fine(tariff: dict[str, Any]) -> None:
    _two_seasons(tariff, (3, 31), (4, 1))
    validate_tariff_content_v2(tariff)


def test_no_active_season_rejected(tariff: dict[str, Any]) -> None:
    tariff["seasons"] = {"Summer": {}}
    with pytest.raises(TariffInvalid, match="seasons: no season with periods"):
        validate_tariff_content_v2(tariff)


def test_not_a_mapping_rejected() -> None:
    with pytest.raises(TariffInvalid, match="expected an object, got list"):
        validate_tariff_content_v2([])


# --- properties ------------------------------------------------------------------------------

_RATE = st.decimals(min_value=0, max_value=20, places=4)


@settings(max_examples=50, deadline=None)
@given(
    buy=st.lists(_RATE, min_size=48, max_size=48),
    sell=st.lists(_RATE, min_size=48, max_size=48),
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
)
def test_any_rounded_rates_render_valid_and_read_back_exactly(
    buy: list[Decimal], sell: list[Decimal], day: date
) -> None:
    rates = HalfHourRates(tuple(buy), tuple(sell))
    content = json.loads(json.dumps(render_half_hour_tariff(rates, plan_name="p", utility="u")))
    validate_tariff_content_v2(content)
    periods = content["seasons"]["Summer"]["tou_periods"]
    assert len(periods) == 48
    assert half_hour_rates_for(parse_tariff_content_v2(content), day) == rates
