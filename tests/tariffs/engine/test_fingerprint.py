"""Tariff fingerprints and the "does this change matter" decision (tariffs.engine.fingerprint)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tariffs.engine.fingerprint import (
    ChangeDecision,
    canonical_tariff,
    change_matters,
    tariff_fingerprint,
)
from tariffs.engine.model import HalfHourRates
from tariffs.engine.tesla_format import TariffInvalid, render_half_hour_tariff

FLOW_POWER = (
    Path(__file__).resolve().parents[2]
    / "fixtures"
    / "tesla"
    / "site_info_tariff_content_v2_flow_power_au.json"
)


def _rates(buy: str = "0.25", sell: str = "0.05", **changes: str) -> HalfHourRates:
    """Flat rates; ``b17`` / ``s17`` style keywords override one half-hour of buy / sell."""
    buy_values = [Decimal(buy)] * 48
    sell_values = [Decimal(sell)] * 48
    for key, value in changes.items():
        target = buy_values if key[0] == "b" else sell_values
        target[int(key[1:])] = Decimal(value)
    return HalfHourRates(tuple(buy_values), tuple(sell_values))


@pytest.fixture
def tariff() -> dict[str, Any]:
    return render_half_hour_tariff(_rates(b10="0.3"), plan_name="Plan", utility="Amber")


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(item) for item in value]
    return value


def test_fingerprint_is_a_sha256_hex(tariff: dict[str, Any]) -> None:
    fingerprint = tariff_fingerprint(tariff)
    assert len(fingerprint) == 64
    assert int(fingerprint, 16) >= 0


def test_key_order_does_not_count(tariff: dict[str, Any]) -> None:
    assert tariff_fingerprint(_reversed_keys(tariff)) == tariff_fingerprint(tariff)


def test_number_spelling_does_not_count(tariff: dict[str, Any]) -> None:
    other = copy.deepcopy(tariff)
    rates = other["energy_charges"]["Summer"]["rates"]
    rates["PERIOD_05_00"] = Decimal("0.30")  # index 10
    rates["PERIOD_00_00"] = Decimal("2.5E-1")
    other["sell_tariff"]["energy_charges"]["Summer"]["rates"]["PERIOD_00_00"] = 0.050
    assert tariff_fingerprint(other) == tariff_fingerprint(tariff)
    zero = copy.deepcopy(tariff)
    zero["sell_tariff"]["energy_charges"]["Summer"]["rates"]["PERIOD_00_00"] = 0
    zero_float = copy.deepcopy(zero)
    zero_float["sell_tariff"]["energy_charges"]["Summer"]["rates"]["PERIOD_00_00"] = 0.0
    assert tariff_fingerprint(zero) == tariff_fingerprint(zero_float)


def test_labels_do_not_count(tariff: dict[str, Any]) -> None:
    other = copy.deepcopy(tariff)
    other.update(name="Renamed", code="X", utility="Y", version=1)
    other["sell_tariff"]["name"] = "Z"
    other["daily_charges"][0]["name"] = "Supply"
    assert tariff_fingerprint(other) == tariff_fingerprint(tariff)


def test_window_spelling_does_not_count(tariff: dict[str, Any]) -> None:
    other = copy.deepcopy(tariff)
    periods = other["seasons"]["Summer"]["tou_periods"]
    # 23:30-midnight written with explicit zeros and toHour 0, as the Globird request does.
    periods["PERIOD_23_30"]["periods"] = [
        {
            "fromDayOfWeek": 0,
            "toDayOfWeek": 6,
            "fromHour": 23,
            "fromMinute": 30,
            "toHour": 0,
            "toMinute": 0,
        }
    ]
    # 00:00-00:30 written as seven one-day entries.
    periods["PERIOD_00_00"]["periods"] = [
        {"fromDayOfWeek": day, "toDayOfWeek": day, "toMinute": 30} for day in range(6, -1, -1)
    ]
    assert tariff_fingerprint(other) == tariff_fingerprint(tariff)


def test_placeholders_do_not_count(tariff: dict[str, Any]) -> None:
    other = copy.deepcopy(tariff)
    other["seasons"]["Winter"] = {}
    other["energy_charges"]["Winter"] = {}
    del other["energy_charges"]["ALL"]
    other["daily_demand_charges"] = {}
    other["monthly_charges"] = 0.0
    assert tariff_fingerprint(other) == tariff_fingerprint(tariff)


def test_envelopes_do_not_count(tariff: dict[str, Any]) -> None:
    fingerprint = tariff_fingerprint(tariff)
    assert tariff_fingerprint({"response": {"tariff_content_v2": tariff}}) == fingerprint
    assert tariff_fingerprint({"tou_settings": {"tariff_content_v2": tariff}}) == fingerprint


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t["energy_charges"]["Summer"]["rates"].update(PERIOD_10_00=0.3001),
        lambda t: t["sell_tariff"]["energy_charges"]["Summer"]["rates"].update(PERIOD_10_00=0.06),
        lambda t: t.update(currency="USD"),
        lambda t: t["daily_charges"][0].update(amount=1.1),
        lambda t: t["demand_charges"].update(Summer={"rates": {"PERIOD_17_00": 0.5}}),
        lambda t: t["seasons"]["Summer"].update(toMonth=6, toDay=30),
        lambda t: t["seasons"]["Summer"]["tou_periods"]["PERIOD_00_00"]["periods"][0].update(
            toDayOfWeek=5
        ),
        lambda t: t.update(monthly_charges=5),
    ],
)
def test_meaningful_changes_count(tariff: dict[str, Any], change: Any) -> None:
    other = copy.deepcopy(tariff)
    change(other)
    assert tariff_fingerprint(other) != tariff_fingerprint(tariff)


def test_fingerprint_of_a_real_read_back() -> None:
    payload = json.loads(FLOW_POWER.read_text())
    canonical = canonical_tariff(payload)
    assert canonical["energy_charges"]["Summer"]["PERIOD_16_00"] == "0.42"
    assert canonical["sell_tariff"]["energy_charges"]["Summer"]["PERIOD_17_00"] == "0.45"
    assert canonical["seasons"]["Summer"]["periods"]["PERIOD_23_30"][0] == ((1410, 1440),)
    assert "Winter" not in canonical["seasons"]
    assert tariff_fingerprint(payload) == tariff_fingerprint(_reversed_keys(payload))


def test_fingerprint_rejects_non_numbers(tariff: dict[str, Any]) -> None:
    tariff["energy_charges"]["Summer"]["rates"]["PERIOD_10_00"] = "cheap"
    with pytest.raises(TariffInvalid, match=r"energy_charges.Summer.PERIOD_10_00: 'cheap'"):
        tariff_fingerprint(tariff)


# --- change_matters --------------------------------------------------------------------------


def _decide(previous: HalfHourRates | None, fresh: HalfHourRates, **kwargs: Any) -> ChangeDecision:
    options: dict[str, Any] = {
        "current_index": 20,
        "tolerance_c_per_kwh": Decimal("1"),
        "lookahead_periods": 4,
    }
    options.update(kwargs)
    return change_matters(previous, fresh, **options)


def test_first_push_always_matters() -> None:
    decision = _decide(None, _rates())
    assert decision.matters
    assert decision.reason == "no tariff pushed before"


def test_identical_rates_do_not_matter() -> None:
    decision = _decide(_rates(), _rates())
    assert not decision.matters
    assert decision.reason == "identical rates"


def test_change_above_tolerance_in_the_current_period_matters() -> None:
    decision = _decide(_rates(), _rates(b20="0.2611"))
    assert decision.matters
    assert decision.largest_difference_c_per_kwh == Decimal("1.11")
    assert (decision.period, decision.side) == ("PERIOD_10_00", "buy")
    assert decision.reason == "buy PERIOD_10_00 moved 1.11 c/kWh, above the 1 c/kWh tolerance"


def test_change_at_the_tolerance_is_noise() -> None:
    decision = _decide(_rates(), _rates(s24="0.06"))  # exactly 1 c/kWh, last look-ahead period
    assert not decision.matters
    assert decision.largest_difference_c_per_kwh == Decimal("1")
    assert (decision.period, decision.side) == ("PERIOD_12_00", "sell")
    assert "within the 1 c/kWh tolerance" in decision.reason


def test_change_beyond_the_lookahead_waits() -> None:
    decision = _decide(_rates(), _rates(b25="0.9", b19="0.9"))  # one after, one before window
    assert not decision.matters
    assert decision.largest_difference_c_per_kwh == 0
    assert "no change in PERIOD_10_00 and the next 4 half-hours" in decision.reason


def test_lookahead_wraps_past_midnight() -> None:
    decision = _decide(_rates(), _rates(b1="0.5"), current_index=46, lookahead_periods=3)
    assert decision.matters
    assert decision.period == "PERIOD_00_30"


def test_largest_difference_is_reported() -> None:
    decision = _decide(_rates(), _rates(b21="0.3", s22="0.2", b23="0.24"))
    assert decision.matters
    assert decision.largest_difference_c_per_kwh == Decimal("15")
    assert (decision.period, decision.side) == ("PERIOD_11_00", "sell")


def test_zero_tolerance_makes_any_counted_change_matter() -> None:
    decision = _decide(_rates(), _rates(b20="0.2501"), tolerance_c_per_kwh=Decimal(0))
    assert decision.matters


def test_full_day_lookahead_counts_every_period() -> None:
    decision = _decide(_rates(), _rates(b19="0.5"), lookahead_periods=100)
    assert decision.matters


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"current_index": 48}, "current_index 48 is outside 0..47"),
        ({"tolerance_c_per_kwh": Decimal("-1")}, "tolerance -1 c/kWh is negative"),
        ({"lookahead_periods": -1}, "lookahead_periods -1 is negative"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _decide(_rates(), _rates(), **kwargs)


# --- properties ------------------------------------------------------------------------------


def _shuffled(value: Any, random: Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        random.shuffle(keys)
        return {key: _shuffled(value[key], random) for key in keys}
    if isinstance(value, list):
        return [_shuffled(item, random) for item in value]
    return value


@settings(max_examples=40, deadline=None)
@given(
    buy=st.lists(st.decimals(min_value=0, max_value=5, places=4), min_size=48, max_size=48),
    random=st.randoms(use_true_random=False),
)
def test_fingerprint_is_stable_under_key_reordering(buy: list[Decimal], random: Random) -> None:
    rates = HalfHourRates(tuple(buy), tuple(reversed(buy)))
    content = render_half_hour_tariff(rates, plan_name="p", utility="u")
    assert tariff_fingerprint(_shuffled(content, random)) == tariff_fingerprint(content)
    assert tariff_fingerprint(json.loads(json.dumps(content))) == tariff_fingerprint(content)


@settings(max_examples=40, deadline=None)
@given(
    previous=st.lists(st.decimals(min_value=0, max_value=5, places=4), min_size=48, max_size=48),
    current_index=st.integers(0, 47),
    lookahead=st.integers(0, 60),
    tolerance=st.decimals(min_value=0, max_value=10, places=2),
)
def test_change_decision_is_consistent(
    previous: list[Decimal], current_index: int, lookahead: int, tolerance: Decimal
) -> None:
    old = HalfHourRates(tuple(previous), tuple(previous))
    assert not change_matters(
        old,
        old,
        current_index=current_index,
        tolerance_c_per_kwh=tolerance,
        lookahead_periods=lookahead,
    ).matters
    bumped = list(previous)
    bumped[current_index] += tolerance / 100 + Decimal("0.0001")
    fresh = HalfHourRates(tuple(bumped), tuple(previous))
    decision = change_matters(
        old,
        fresh,
        current_index=current_index,
        tolerance_c_per_kwh=tolerance,
        lookahead_periods=lookahead,
    )
    assert decision.matters
    assert decision.period == f"PERIOD_{current_index // 2:02d}_{current_index % 2 * 30:02d}"
