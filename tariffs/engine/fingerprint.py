"""Change detection: a tariff fingerprint, and whether fresh prices differ enough to push.

Fingerprint (``tariff_fingerprint``)
------------------------------------
SHA-256 of canonical JSON (sorted keys, no spaces) of the tariff's *meaning*, so that two tariffs
a Powerwall would treat the same get the same fingerprint, and a read-back can be compared with
what was pushed:

* Counts: ``currency`` (absent = AUD, as the read-back assumes); every rate of
  ``energy_charges`` and ``demand_charges`` per season and period; ``daily_charges`` amounts;
  each non-empty season's dates and, per period, the minutes it covers on each weekday; the same
  for ``sell_tariff`` except its ``daily_charges`` (our model has one daily charge, on the buy
  side; captured sell sides only repeat it); the optional scalars (``monthly_charges``,
  ``monthly_minimum_bill``, ``min/max_applicable_demand``) when non-zero.
* Does not count: key order; number spelling (0.2 = 0.20 = 2E-1); ``name``, ``code``, ``utility``,
  ``version``, daily charge names (labels, not prices); empty placeholder seasons and empty charge
  blocks; Tesla's zero base entry ``"ALL": {"rates": {"ALL": 0}}``; how windows are spelled (omitted
  zero fields, ``toHour: 24`` vs ``0``, one Mon-Sun entry vs seven one-day entries, entry order).
* The envelope is unwrapped first (``site_info`` response, ``time_of_use_settings`` body or bare),
  and the v1 shape reads the same as v2.

Change decision (``change_matters``)
------------------------------------
Only the current half-hour and the next ``lookahead_periods`` count (Tesla's rolling day: index
``current_index + k`` mod 48). A change matters when, for buy or sell, some counted half-hour moved
by MORE than ``tolerance_c_per_kwh`` (c/kWh; $/kWh x 100). No previous tariff always matters.
Changes further ahead are left for a later push, when they come into the window.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from tariffs.engine.custom_tou import MINUTES_PER_DAY, ScheduleInvalid, TimeWindow
from tariffs.engine.model import PERIODS_PER_DAY, HalfHourRates, period_name
from tariffs.engine.tesla_format import TariffInvalid, unwrap_tariff_content_v2

FINGERPRINT_SCHEME = "tariff-v1"
_FALLBACK_KEY = "ALL"
_DEFAULT_CURRENCY = "AUD"  # an absent currency reads as AUD, as parse_tariff_content_v2 assumes
_OPTIONAL_SCALARS = (
    "monthly_minimum_bill",
    "min_applicable_demand",
    "max_applicable_demand",
    "monthly_charges",
)
_CENTS_PER_DOLLAR = Decimal(100)


def _number_text(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TariffInvalid(f"{where}: {value!r} is not a number")
    try:
        return _canonical_number(value)
    except ValueError as error:
        raise TariffInvalid(f"{where}: {value!r} {error}") from None


@lru_cache(maxsize=4096)
def _canonical_number(value: int | float | str | Decimal) -> str:
    """Cached: a tariff repeats a handful of rates across its 48 half-hours (equal keys, such as
    1 and 1.0, have one canonical text anyway). ValueError says what is wrong."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not number.is_finite():
        raise ValueError("is not finite")
    if number == 0:
        return "0"  # also folds -0
    return format(number.normalize(), "f")


def _canonical_charges(raw: Any, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(raw, Mapping):
        return {}
    result: dict[str, dict[str, str]] = {}
    for key, block in raw.items():
        if not isinstance(block, Mapping):
            continue
        rates = block.get("rates", block if "rates" not in block else None)  # v2 or v1
        if not isinstance(rates, Mapping) or not rates:
            continue
        canonical = {
            str(period): _number_text(rate, f"{where}.{key}.{period}")
            for period, rate in rates.items()
        }
        if key == _FALLBACK_KEY and canonical == {_FALLBACK_KEY: "0"}:
            continue  # Tesla's zero base entry, present in most tariffs
        result[str(key)] = canonical
    return result


_ENTRY_FIELDS = (
    ("fromDayOfWeek", 0),
    ("toDayOfWeek", 6),
    ("fromHour", 0),
    ("fromMinute", 0),
    ("toHour", 0),
    ("toMinute", 0),
)


def _entry_int(entry: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = entry.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise TariffInvalid(f"{where}.{key}: {value!r} is not an integer")
    return int(value)


def _window(entry: Any, where: str) -> TimeWindow:
    if not isinstance(entry, Mapping):
        raise TariffInvalid(f"{where}: expected an object")
    values = tuple(_entry_int(entry, field, default, where) for field, default in _ENTRY_FIELDS)
    try:
        return _time_window(values)
    except ScheduleInvalid as error:
        raise TariffInvalid(f"{where}: {error}") from error


def _time_window(values: tuple[int, ...]) -> TimeWindow:
    """A window from an entry's six fields, in ``_ENTRY_FIELDS`` order."""
    from_day, to_day, from_hour, from_minute, to_hour, to_minute = values
    end = to_hour * 60 + to_minute
    return TimeWindow(from_day, to_day, from_hour * 60 + from_minute, end or MINUTES_PER_DAY)


def _merged(pieces: list[tuple[int, int]]) -> list[list[int]]:
    merged: list[list[int]] = []
    for start, end in sorted(pieces):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _period_minutes(entries: list[Any], where: str) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Per weekday (Monday first), the merged (start, end) minutes a period's entries cover."""
    key = _plain_entries(entries)
    if key is not None:
        try:
            return _minutes_by_weekday(key)
        except ScheduleInvalid:
            pass  # the slow path below names the offending entry
    return _weekday_minutes(
        [_window(entry, f"{where}[{index}]") for index, entry in enumerate(entries)]
    )


def _weekday_minutes(windows: list[TimeWindow]) -> tuple[tuple[tuple[int, ...], ...], ...]:
    return tuple(
        tuple(
            tuple(piece)
            for piece in _merged(
                [piece for window in windows for piece in window.pieces_on(weekday)]
            )
        )
        for weekday in range(7)
    )


def _plain_entries(entries: list[Any]) -> tuple[tuple[int, ...], ...] | None:
    """The entries as hashable tuples of their six fields, when each entry is a JSON object of
    plain ints (absent or null = the default); None sends anything else down the validating
    slow path."""
    key = []
    for entry in entries:
        if type(entry) is not dict:
            return None
        values = tuple(
            default if (value := entry.get(field)) is None else value
            for field, default in _ENTRY_FIELDS
        )
        if not all(type(value) is int for value in values):
            return None
        key.append(values)
    return tuple(key)


@lru_cache(maxsize=4096)
def _minutes_by_weekday(
    entries: tuple[tuple[int, ...], ...],
) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Cached (immutable, shared): a tariff repeats the same windows push after push, and on
    both sides."""
    return _weekday_minutes([_time_window(values) for values in entries])


def _canonical_seasons(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        return {}
    result: dict[str, Any] = {}
    for name, season in raw.items():
        if not isinstance(season, Mapping) or not season.get("tou_periods"):
            continue  # empty placeholder season
        periods: dict[str, Any] = {}
        for period, period_raw in season["tou_periods"].items():
            entries = period_raw.get("periods") if isinstance(period_raw, Mapping) else period_raw
            if not isinstance(entries, list):
                raise TariffInvalid(f"{where}.{name}.{period}: expected a list of periods")
            periods[str(period)] = _period_minutes(entries, f"{where}.{name}.{period}")
        result[str(name)] = {
            "dates": [season.get(key) for key in ("fromMonth", "fromDay", "toMonth", "toDay")],
            "periods": periods,
        }
    return result


def _canonical_daily(raw: Any, where: str) -> list[str]:
    if not isinstance(raw, list):
        return []
    amounts = [
        _number_text(charge["amount"], f"{where}[{index}].amount")
        for index, charge in enumerate(raw)
        if isinstance(charge, Mapping) and charge.get("amount") is not None
    ]
    return sorted(amount for amount in amounts if amount != "0")


def _canonical_side(side: Mapping[str, Any], where: str) -> dict[str, Any]:
    prefix = f"{where}." if where else ""
    return {
        "demand_charges": _canonical_charges(side.get("demand_charges"), f"{prefix}demand_charges"),
        "energy_charges": _canonical_charges(side.get("energy_charges"), f"{prefix}energy_charges"),
        "seasons": _canonical_seasons(side.get("seasons"), f"{prefix}seasons"),
    }


def canonical_tariff(payload: Any) -> dict[str, Any]:
    """The meaning of a tariff as plain JSON values, per the module's rules."""
    content = unwrap_tariff_content_v2(payload)
    canonical = _canonical_side(content, "")
    canonical["daily_charges"] = _canonical_daily(content.get("daily_charges"), "daily_charges")
    canonical["scheme"] = FINGERPRINT_SCHEME
    canonical["currency"] = content.get("currency") or _DEFAULT_CURRENCY
    canonical["scalars"] = {
        key: text
        for key in _OPTIONAL_SCALARS
        if key in content and (text := _number_text(content[key], key)) != "0"
    }
    sell = content.get("sell_tariff")
    canonical["sell_tariff"] = (
        _canonical_side(sell, "sell_tariff") if isinstance(sell, Mapping) else None
    )
    return canonical


def tariff_fingerprint(payload: Any) -> str:
    """Hex SHA-256 of ``canonical_tariff(payload)``: equal for tariffs that mean the same."""
    text = json.dumps(
        canonical_tariff(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ChangeDecision:
    """Whether to push, why, and the largest counted move (c/kWh) with where it was."""

    matters: bool
    reason: str
    largest_difference_c_per_kwh: Decimal = Decimal(0)
    period: str | None = None  # PERIOD_HH_MM of the largest counted move
    side: str | None = None  # "buy" or "sell"


def change_matters(
    previous: HalfHourRates | None,
    fresh: HalfHourRates,
    *,
    current_index: int,
    tolerance_c_per_kwh: Decimal,
    lookahead_periods: int,
) -> ChangeDecision:
    """Decide whether ``fresh`` differs from ``previous`` in a way worth a push (module rules).

    Raises ``ValueError`` for an index outside 0..47, a negative tolerance or look-ahead.
    """
    if not 0 <= current_index < PERIODS_PER_DAY:
        raise ValueError(f"current_index {current_index} is outside 0..47")
    if tolerance_c_per_kwh < 0:
        raise ValueError(f"tolerance {tolerance_c_per_kwh} c/kWh is negative")
    if lookahead_periods < 0:
        raise ValueError(f"lookahead_periods {lookahead_periods} is negative")
    if previous is None:
        return ChangeDecision(matters=True, reason="no tariff pushed before")
    if previous == fresh:
        return ChangeDecision(matters=False, reason="identical rates")
    counted = min(lookahead_periods, PERIODS_PER_DAY - 1) + 1
    largest = Decimal(0)
    where: tuple[str, str] | None = None
    for offset in range(counted):
        index = (current_index + offset) % PERIODS_PER_DAY
        for side, old, new in (
            ("buy", previous.buy_dollars_per_kwh, fresh.buy_dollars_per_kwh),
            ("sell", previous.sell_dollars_per_kwh, fresh.sell_dollars_per_kwh),
        ):
            difference = abs(new[index] - old[index]) * _CENTS_PER_DOLLAR
            if difference > largest:
                largest, where = difference, (side, period_name(index))
    span = f"{period_name(current_index)} and the next {counted - 1} half-hours"
    if where is None:
        return ChangeDecision(
            matters=False, reason=f"no change in {span}; later half-hours wait for their turn"
        )
    side, period = where
    moved = f"{side} {period} moved {largest.normalize():f} c/kWh"
    if largest > tolerance_c_per_kwh:
        return ChangeDecision(
            matters=True,
            reason=f"{moved}, above the {tolerance_c_per_kwh} c/kWh tolerance",
            largest_difference_c_per_kwh=largest,
            period=period,
            side=side,
        )
    return ChangeDecision(
        matters=False,
        reason=f"{moved} at most in {span}, within the {tolerance_c_per_kwh} c/kWh tolerance",
        largest_difference_c_per_kwh=largest,
        period=period,
        side=side,
    )
