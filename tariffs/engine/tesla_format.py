"""Tesla's ``tariff_content_v2``: render it, validate it before a push, and read it back.

One renderer (``render_schedule``) turns a ``TouSchedule`` into ``tariff_content_v2``; the dynamic
48-half-hour tariff (``render_half_hour_tariff``) is a one-season schedule of 48 ``PERIOD_HH_MM``
periods rendered by the same code, and custom plans (``custom_tou.render_custom_tariff``) too.

Wire rules applied when rendering (sources in ``../shared/reference/external_apis.md`` §2.5, the
fixtures in ``tests/fixtures/tesla/`` and the issues named beside each constant below):

* Rates are $/kWh JSON numbers rounded half-up to 4 decimals (SPEC §4.8); sell rates are positive
  export credits. Money is Decimal until this boundary, which writes floats (their shortest repr
  is the 4-decimal text, e.g. 0.2014).
* Day of week 0 = Monday ... 6 = Sunday; one ``periods`` entry per window, each a day-of-week range
  (the Tesla app lists every entry as its own row, so per-day copies clutter it: batpred PR #4357).
* Zero-valued entry fields are omitted, as Tesla writes them (``fromDayOfWeek/fromHour/fromMinute/
  toMinute`` = 0 are left out); ``toDayOfWeek`` is always written (6 as in the fixtures; 0 must
  stay because an omitted one reads as 6).
* A window ending at midnight is written ``"toHour": 24``, never an omitted ``toHour``: Tesla's app
  flagged "Invalid schedule — time of use schedule should cover exactly 24 hours" for entries that
  left the day-end ``toHour`` out (batpred issue #4410); the Flow Power sample fixture writes 24.
* A whole-year dynamic tariff is one season named ``Summer`` from 1 Jan to 31 Dec (PowerSync's
  pattern, FX Flow Power sample); a second empty season is not needed (the real Globird request
  has only one season).
* ``energy_charges``/``demand_charges`` carry Tesla's ``"ALL": {"rates": {"ALL": 0}}`` base entry,
  as every captured tariff does; ``daily_charges`` is ``[{"name": "Charge", "amount": $/day}]`` with
  a zero amount omitted; currency ``AUD``; ``version`` 1.

Read-back (``parse_tariff_content_v2``) follows Tesla's resolution, as python-tesla-fleet-api's
``tariff.py`` implements it: missing entry fields default to 0 (``toDayOfWeek`` to 6);
``toHour: 24`` and ``toMinute: 60`` mean midnight; ``to <= from`` runs past midnight into the
next day; day ranges may wrap the week; a rate missing for a season or period falls back to the
key ``ALL``; empty placeholder seasons (``{}`` or all-zero dates) are skipped. The legacy v1 shape
(no ``rates``/``periods`` wrappers) is read too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from tariffs.engine.bounds import amount_problem, text_problem
from tariffs.engine.custom_tou import (
    MINUTES_PER_DAY,
    RATE_QUANTUM,
    ZERO,
    ScheduleInvalid,
    TimeWindow,
    TouPeriod,
    TouSchedule,
    TouSeason,
    check_day_coverage,
    check_season_dates,
    half_hour_rates_for,
    validate_schedule,
)
from tariffs.engine.model import PERIODS_PER_DAY, HalfHourRates, period_name

__all__ = [
    "DEFAULT_CODE",
    "WHOLE_YEAR_SEASON",
    "TariffInvalid",
    "half_hour_rates_for",
    "parse_tariff_content_v2",
    "render_half_hour_tariff",
    "render_schedule",
    "unwrap_tariff_content_v2",
    "validate_tariff_content_v2",
]

WHOLE_YEAR_SEASON = "Summer"
DEFAULT_CODE = "POWERSYNC"
CURRENCY = "AUD"
DAILY_CHARGE_NAME = "Charge"
FALLBACK_KEY = "ALL"
_ENTRY_FIELDS = ("fromDayOfWeek", "toDayOfWeek", "fromHour", "fromMinute", "toHour", "toMinute")
# Defaults of omitted entry fields: python-tesla-fleet-api tariff.py `_expand_entry`
# ("observed wire format"), and the Flow Power sample writes 00:00-00:30 as only
# {"toDayOfWeek": 6, "toMinute": 30}.
_ENTRY_DEFAULTS = {
    "fromDayOfWeek": 0,
    "toDayOfWeek": 6,
    "fromHour": 0,
    "fromMinute": 0,
    "toHour": 0,
    "toMinute": 0,
}
_REQUIRED_FIELDS = (
    "version",
    "code",
    "name",
    "utility",
    "currency",
    "daily_charges",
    "demand_charges",
    "energy_charges",
    "seasons",
    "sell_tariff",
)
_OPTIONAL_SCALARS = (
    "monthly_minimum_bill",
    "min_applicable_demand",
    "max_applicable_demand",
    "monthly_charges",
)
_HALF_HOUR_NAME = re.compile(r"^(?:PERIOD_(\d\d)_(\d\d)|(\d\d)(\d\d))$")


class TariffInvalid(ValueError):
    """A ``tariff_content_v2`` breaks a rule (or cannot be read); the message says which, where."""


# --- rendering -------------------------------------------------------------------------------


def _rate_number(value: Decimal) -> float:
    return float(value.quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP))


def _render_entry(window: TimeWindow) -> dict[str, int]:
    start, end = window.start_minute, window.end_minute
    fields = {
        "fromDayOfWeek": window.from_day_of_week,
        "toDayOfWeek": window.to_day_of_week,
        "fromHour": start // 60,
        "fromMinute": start % 60,
        # end 1440 becomes toHour 24 (never an omitted toHour, batpred #4410).
        "toHour": end // 60,
        "toMinute": end % 60,
    }
    # Zero fields are omitted as Tesla does, except toDayOfWeek: an omitted one reads as 6
    # (TFA `_expand_entry`), so a Fri->Mon range must keep its "toDayOfWeek": 0.
    return {key: value for key, value in fields.items() if value != 0 or key == "toDayOfWeek"}


def _render_seasons(schedule: TouSchedule) -> dict[str, Any]:
    return {
        season.name: {
            "fromMonth": season.from_month,
            "fromDay": season.from_day,
            "toMonth": season.to_month,
            "toDay": season.to_day,
            "tou_periods": {
                period.name: {"periods": [_render_entry(window) for window in period.windows]}
                for period in season.periods
            },
        }
        for season in schedule.seasons
    }


def _base_charges(schedule: TouSchedule) -> dict[str, Any]:
    if any(season.name == FALLBACK_KEY for season in schedule.seasons):
        return {}
    return {FALLBACK_KEY: {"rates": {FALLBACK_KEY: 0}}}


def render_schedule(schedule: TouSchedule) -> dict[str, Any]:
    """Render ``schedule`` as ``tariff_content_v2`` (module rules). Does not validate it."""
    buy_charges = _base_charges(schedule)
    sell_charges = _base_charges(schedule)
    demand_charges = _base_charges(schedule)
    for season in schedule.seasons:
        buy_charges[season.name] = {
            "rates": {
                period.name: _rate_number(period.buy_dollars_per_kwh) for period in season.periods
            }
        }
        sell_charges[season.name] = {
            "rates": {
                period.name: _rate_number(period.sell_dollars_per_kwh) for period in season.periods
            }
        }
        demand_rates = {
            period.name: _rate_number(period.demand_dollars_per_kw)
            for period in season.periods
            if period.demand_dollars_per_kw
        }
        demand_charges[season.name] = {"rates": demand_rates} if demand_rates else {}
    daily_charge: dict[str, Any] = {"name": DAILY_CHARGE_NAME}
    if schedule.daily_supply_dollars:
        daily_charge["amount"] = _rate_number(schedule.daily_supply_dollars)
    return {
        "version": 1,
        "code": schedule.code or DEFAULT_CODE,
        "name": schedule.name,
        "utility": schedule.utility,
        "currency": schedule.currency,
        "daily_charges": [daily_charge],
        "demand_charges": demand_charges,
        "energy_charges": buy_charges,
        "seasons": _render_seasons(schedule),
        "sell_tariff": {
            "name": schedule.name,
            "utility": schedule.utility,
            "daily_charges": [],
            "demand_charges": _base_charges(schedule),
            "energy_charges": sell_charges,
            "seasons": _render_seasons(schedule),
        },
    }


def half_hour_schedule(
    rates: HalfHourRates, *, plan_name: str, utility: str, code: str = DEFAULT_CODE
) -> TouSchedule:
    """The one-season, 48-period schedule whose half-hour ``i`` is ``PERIOD_HH_MM`` of ``rates``."""
    periods = tuple(
        TouPeriod(
            name=period_name(index),
            buy_dollars_per_kwh=rates.buy_dollars_per_kwh[index],
            sell_dollars_per_kwh=rates.sell_dollars_per_kwh[index],
            windows=(TimeWindow(0, 6, index * 30, index * 30 + 30),),
        )
        for index in range(PERIODS_PER_DAY)
    )
    season = TouSeason(WHOLE_YEAR_SEASON, 1, 1, 12, 31, periods)
    return TouSchedule(name=plan_name, utility=utility, seasons=(season,), code=code)


def render_half_hour_tariff(
    rates: HalfHourRates, *, plan_name: str, utility: str, code: str = DEFAULT_CODE
) -> dict[str, Any]:
    """The dynamic tariff: one whole-year season, 48 ``PERIOD_HH_MM`` periods Mon-Sun.

    ``rates`` must already be rounded and non-negative (``HalfHourRates`` contract); the result
    is a complete ``tariff_content_v2`` ready for ``validate_tariff_content_v2``.
    """
    for label, values in (("buy", rates.buy_dollars_per_kwh), ("sell", rates.sell_dollars_per_kwh)):
        for index, value in enumerate(values):
            if value < 0:
                raise TariffInvalid(
                    f"{label} rate of {period_name(index)} is negative ({value}); "
                    "Tesla rejects negative rates"
                )
    return render_schedule(
        half_hour_schedule(rates, plan_name=plan_name, utility=utility, code=code)
    )


# --- validation ------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_amount(value: Any, where: str) -> None:
    """Rates and charges: JSON numbers, finite, non-negative, at most 4 decimals."""
    # A string or bool is not a JSON number (Tesla's proto-JSON fields are doubles; every
    # fixture writes bare numbers).
    if not _is_number(value):
        raise TariffInvalid(f"{where}: {value!r} is not a JSON number")
    if not math.isfinite(value):
        raise TariffInvalid(f"{where}: {value!r} is not finite")
    # SPEC §4.9: Tesla rejects negative rates (negative prices are clamped to 0 upstream).
    if value < 0:
        raise TariffInvalid(f"{where}: {value!r} is negative; Tesla rejects negative rates")
    if problem := amount_problem(value):
        raise TariffInvalid(f"{where}: {value!r} {problem}")
    # SPEC §4.8: $/kWh to 4 decimals; also catches float noise such as 0.30000000000000004.
    exponent = Decimal(str(value)).as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise TariffInvalid(f"{where}: {value!r} has more than 4 decimals")


def _require_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TariffInvalid(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _check_text(content: Mapping[str, Any], key: str, where: str) -> None:
    value = content.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TariffInvalid(f"{where}{key}: expected a non-empty string, got {value!r}")
    if problem := text_problem(value):
        raise TariffInvalid(f"{where}{key} {problem}")


def _check_daily_charges(value: Any, where: str) -> None:
    # Shape from every fixture: a list of {"name": str, "amount"?: $/day}.
    if not isinstance(value, list):
        raise TariffInvalid(f"{where}: expected a list")
    for index, charge in enumerate(value):
        charge = _require_mapping(charge, f"{where}[{index}]")
        if not isinstance(charge.get("name"), str):
            raise TariffInvalid(f"{where}[{index}].name: required string")
        if "amount" in charge:
            _check_amount(charge["amount"], f"{where}[{index}].amount")


def _strict_int(entry: Mapping[str, Any], key: str, where: str) -> int:
    value = entry.get(key, _ENTRY_DEFAULTS[key])
    if not isinstance(value, int) or isinstance(value, bool):
        raise TariffInvalid(f"{where}.{key}: {value!r} is not an integer")
    return value


def _validated_window(entry: Any, where: str) -> TimeWindow:
    entry = _require_mapping(entry, where)
    unknown = sorted(set(entry) - set(_ENTRY_FIELDS))
    if unknown:
        raise TariffInvalid(f"{where}: unknown field(s) {', '.join(unknown)}")
    # batpred #4410: an entry with no toHour and no toMinute (an implicit midnight end) made the
    # Tesla app report "time of use schedule should cover exactly 24 hours".
    if "toHour" not in entry and "toMinute" not in entry:
        raise TariffInvalid(f"{where}: the end time is omitted; write toHour 24 for midnight")
    values = {key: _strict_int(entry, key, where) for key in _ENTRY_FIELDS}
    # Ranges: day of week 0 = Monday .. 6 = Sunday (external_apis.md §2.5); toHour 24 means
    # midnight (python-tesla-fleet-api tariff.py; FX Flow Power sample), only with toMinute 0.
    for key in ("fromDayOfWeek", "toDayOfWeek"):
        if not 0 <= values[key] <= 6:
            raise TariffInvalid(f"{where}.{key}: {values[key]} is outside 0..6")
    if not 0 <= values["fromHour"] <= 23:
        raise TariffInvalid(f"{where}.fromHour: {values['fromHour']} is outside 0..23")
    if not 0 <= values["toHour"] <= 24:
        raise TariffInvalid(f"{where}.toHour: {values['toHour']} is outside 0..24")
    for key in ("fromMinute", "toMinute"):
        if not 0 <= values[key] <= 59:
            raise TariffInvalid(f"{where}.{key}: {values[key]} is outside 0..59")
    if values["toHour"] == 24 and values["toMinute"] != 0:
        raise TariffInvalid(f"{where}: toHour 24 needs toMinute 0")
    end = values["toHour"] * 60 + values["toMinute"]
    return TimeWindow(
        values["fromDayOfWeek"],
        values["toDayOfWeek"],
        values["fromHour"] * 60 + values["fromMinute"],
        end or MINUTES_PER_DAY,
    )


def _is_placeholder_season(season: Any) -> bool:
    """An unused season: ``{}``, or all-zero dates and no periods (TFA tariff.py; FX v1 Winter)."""
    if not isinstance(season, Mapping):
        return False
    if not season:
        return True
    dates_zero = all(
        season.get(key, 0) == 0 for key in ("fromMonth", "fromDay", "toMonth", "toDay")
    )
    return dates_zero and not season.get("tou_periods")


def _validated_seasons(raw: Any, where: str) -> dict[str, TouSeason]:
    seasons_raw = _require_mapping(raw, where)
    seasons: dict[str, TouSeason] = {}
    for name, season_raw in seasons_raw.items():
        season_where = f"{where}.{name}"
        if _is_placeholder_season(season_raw):
            continue
        season_map = _require_mapping(season_raw, season_where)
        dates = []
        for key in ("fromMonth", "fromDay", "toMonth", "toDay"):
            value = season_map.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TariffInvalid(f"{season_where}.{key}: required integer, got {value!r}")
            dates.append(value)
        tou_periods = _require_mapping(season_map.get("tou_periods"), f"{season_where}.tou_periods")
        if not tou_periods:
            raise TariffInvalid(f"{season_where}.tou_periods: no period")
        periods = []
        for period, period_raw in tou_periods.items():
            period_where = f"{season_where}.tou_periods.{period}"
            period_map = _require_mapping(period_raw, period_where)
            entries = period_map.get("periods")
            if not isinstance(entries, list) or not entries:
                raise TariffInvalid(f"{period_where}.periods: expected a non-empty list")
            windows = tuple(
                _validated_window(entry, f"{period_where}.periods[{index}]")
                for index, entry in enumerate(entries)
            )
            periods.append(TouPeriod(period, ZERO, ZERO, windows))
        seasons[name] = TouSeason(name, dates[0], dates[1], dates[2], dates[3], tuple(periods))
    if not seasons:
        raise TariffInvalid(f"{where}: no season with periods")
    _check_season_layout(tuple(seasons.values()), where)
    return seasons


@lru_cache(maxsize=256)
def _check_season_layout(seasons: tuple[TouSeason, ...], where: str) -> None:
    """Dates and day coverage. Cached (a passing layout only: errors are not cached): every
    tariff we render has the same layout, only its rates differ."""
    try:
        # Our rule: every date in exactly one season. Tesla takes the first matching season
        # (TFA `_season_windows`), so an overlap is ambiguous, and a gap leaves days unpriced.
        check_season_dates(list(seasons))
        # Tesla app: "time of use schedule should cover exactly 24 hours" (batpred #4346/#4410);
        # SPEC §3/§4.9: every day type of every season covered exactly once, no overlap.
        for season in seasons:
            check_day_coverage(season)
    except ScheduleInvalid as error:
        raise TariffInvalid(f"{where}: {error}") from error
    for season in seasons:
        _check_half_hour_periods(season, where)


def _check_half_hour_periods(season: TouSeason, where: str) -> None:
    """SPEC §4.9: a ``PERIOD_HH_MM`` (or ``HHMM``) tariff has exactly 48 periods, each its slot."""
    matches = [_HALF_HOUR_NAME.match(period.name) for period in season.periods]
    if not all(matches):
        return
    if len(season.periods) != PERIODS_PER_DAY:
        raise TariffInvalid(
            f"{where}.{season.name}: {len(season.periods)} half-hour periods, expected 48"
        )
    slot_start: dict[str, int] = {}
    for period, match in zip(season.periods, matches, strict=True):
        assert match is not None
        hour, minute = (int(group) for group in match.groups() if group is not None)
        slot_start[period.name] = hour * 60 + minute
    # The day is already known to be tiled exactly, so each piece must be its period's own slot.
    for weekday in range(7):
        for start, end, period in season.segments_on(weekday):
            expected = slot_start[period.name]
            if (start, end) != (expected, expected + 30):
                raise TariffInvalid(
                    f"{where}.{season.name}.tou_periods.{period.name}: does not cover exactly "
                    f"its half-hour on day {weekday}"
                )


def _validated_charges(
    raw: Any, seasons: Mapping[str, TouSeason], where: str, *, every_period: bool
) -> None:
    charges = _require_mapping(raw, where)
    for key, block in charges.items():
        block_map = _require_mapping(block, f"{where}.{key}")
        if not block_map:
            continue  # an empty season block, e.g. "Winter": {} (FX Flow Power sample)
        rates = _require_mapping(block_map.get("rates"), f"{where}.{key}.rates")
        for period, rate in rates.items():
            _check_amount(rate, f"{where}.{key}.rates.{period}")
    if not every_period:
        return
    # Every period used in a season is priced in that season's own block, no ALL fallback
    # (external_apis.md §2.5, PowerSync's pre-upload check; SPEC §4.9 "every period priced").
    for season in seasons.values():
        season_block = charges.get(season.name)
        season_rates = season_block.get("rates") if isinstance(season_block, Mapping) else None
        for tou_period in season.periods:
            if not isinstance(season_rates, Mapping) or tou_period.name not in season_rates:
                raise TariffInvalid(f"{where}.{season.name}.rates: no rate for {tou_period.name}")


def validate_tariff_content_v2(content: Any) -> None:
    """Raise ``TariffInvalid`` unless ``content`` is safe to push (rules and sources inline)."""
    content = _require_mapping(content, "tariff_content_v2")
    # Required fields: present in every written tariff we hold (FX Flow Power sample, Globird
    # request); TFA recognises a bare tariff by seasons + energy_charges.
    missing = [key for key in _REQUIRED_FIELDS if key not in content]
    if missing:
        raise TariffInvalid(f"missing required field(s): {', '.join(missing)}")
    if content["version"] != 1 or isinstance(content["version"], bool):
        raise TariffInvalid(f"version: {content['version']!r}, expected 1 (external_apis.md §2.5)")
    for key in ("code", "name", "utility"):
        _check_text(content, key, "")
    # SPEC §4.9: currency AUD (one real AU request sent USD; we never do).
    if content["currency"] != CURRENCY:
        raise TariffInvalid(f"currency: {content['currency']!r}, expected {CURRENCY}")
    for key in _OPTIONAL_SCALARS:
        if key in content:
            _check_amount(content[key], key)
    _check_daily_charges(content["daily_charges"], "daily_charges")
    buy_seasons = _validated_seasons(content["seasons"], "seasons")
    _validated_charges(content["energy_charges"], buy_seasons, "energy_charges", every_period=True)
    _validated_charges(content["demand_charges"], buy_seasons, "demand_charges", every_period=False)

    sell = _require_mapping(content["sell_tariff"], "sell_tariff")
    missing = [key for key in ("energy_charges", "seasons") if key not in sell]
    if missing:
        raise TariffInvalid(f"sell_tariff: missing required field(s): {', '.join(missing)}")
    sell_seasons = _validated_seasons(sell["seasons"], "sell_tariff.seasons")
    # Buy and sell use the same season names (external_apis.md §2.5) and, per SPEC §4.9, every
    # period is priced in both.
    if set(sell_seasons) != set(buy_seasons):
        raise TariffInvalid(
            f"sell_tariff.seasons {sorted(sell_seasons)} differ from seasons {sorted(buy_seasons)}"
        )
    for name, season in buy_seasons.items():
        buy_names = {period.name for period in season.periods}
        sell_names = {period.name for period in sell_seasons[name].periods}
        if buy_names != sell_names:
            raise TariffInvalid(
                f"sell_tariff.seasons.{name}: periods {sorted(sell_names ^ buy_names)} "
                "are not in both buy and sell"
            )
    _validated_charges(
        sell["energy_charges"], sell_seasons, "sell_tariff.energy_charges", every_period=True
    )
    if "demand_charges" in sell:
        _validated_charges(
            sell["demand_charges"], sell_seasons, "sell_tariff.demand_charges", every_period=False
        )
    if "daily_charges" in sell:
        _check_daily_charges(sell["daily_charges"], "sell_tariff.daily_charges")
    # Sell above buy: accepted by Tesla today (SPEC §4.9), so no rule here.


# --- read-back -------------------------------------------------------------------------------


def unwrap_tariff_content_v2(payload: Any) -> Mapping[str, Any]:
    """The tariff inside a ``site_info`` response, a ``time_of_use_settings`` body, or bare.

    Envelopes as TFA ``unwrap_tariff_v2`` documents them; a bare tariff needs ``seasons`` and
    ``energy_charges``. The owner-API ``tariff_rate`` response (legacy v1) is accepted too.
    """
    body = _require_mapping(payload, "tariff payload")
    if isinstance(body.get("tariff_content_v2"), Mapping):
        return body["tariff_content_v2"]
    for envelope in ("response", "tou_settings"):
        inner = body.get(envelope)
        if isinstance(inner, Mapping):
            if isinstance(inner.get("tariff_content_v2"), Mapping):
                return inner["tariff_content_v2"]
            if "seasons" in inner and "energy_charges" in inner:
                return inner
            raise TariffInvalid(f"'{envelope}' holds no tariff_content_v2")
    if "seasons" in body and "energy_charges" in body:
        return body
    raise TariffInvalid("no tariff_content_v2 found (need seasons and energy_charges)")


def _lenient_int(entry: Mapping[str, Any], key: str, where: str) -> int:
    value = entry.get(key, _ENTRY_DEFAULTS[key])
    if value is None:
        return _ENTRY_DEFAULTS[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise TariffInvalid(f"{where}.{key}: {value!r} is not an integer")
    return int(value)


def _read_window(entry: Any, where: str) -> TimeWindow:
    entry = _require_mapping(entry, where)
    values = {key: _lenient_int(entry, key, where) for key in _ENTRY_FIELDS}
    start = values["fromHour"] * 60 + values["fromMinute"]
    end = values["toHour"] * 60 + values["toMinute"]  # toHour 24 / toMinute 60 roll over (TFA)
    if end == 0:
        end = MINUTES_PER_DAY  # "to" midnight; also from == to == 00:00, a whole day
    try:
        return TimeWindow(values["fromDayOfWeek"], values["toDayOfWeek"], start, end)
    except ScheduleInvalid as error:
        raise TariffInvalid(f"{where}: {error}") from error


def _rates_of(block: Any) -> Mapping[str, Any] | None:
    """``block["rates"]`` (v2) or the block itself (v1); ``None`` for an empty block."""
    if not isinstance(block, Mapping):
        return None
    rates = block.get("rates")
    if isinstance(rates, Mapping):
        return rates
    if block and "rates" not in block:
        return block
    return None


def _lookup(charges: Any, season: str, period: str) -> Decimal | None:
    """``charges[season].rates[period]`` with Tesla's ``ALL`` fallback for both keys (TFA)."""
    if not isinstance(charges, Mapping):
        return None
    rates: Mapping[str, Any] | None = None
    for key in (season, FALLBACK_KEY):
        rates = _rates_of(charges.get(key))
        if rates is not None:
            break
    if rates is None:
        return None
    for key in (period, FALLBACK_KEY):
        if key in rates:
            return _read_decimal(rates[key], f"{season}.{period}")
    return None


def _read_decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TariffInvalid(f"{where}: {value!r} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise TariffInvalid(f"{where}: {value!r} is not a number") from error
    if not number.is_finite():
        raise TariffInvalid(f"{where}: {value!r} is not finite")
    return number


def _read_period_windows(
    tou_periods: Mapping[str, Any], where: str
) -> dict[str, tuple[TimeWindow, ...]]:
    result: dict[str, tuple[TimeWindow, ...]] = {}
    for name, raw in tou_periods.items():
        entries = raw.get("periods") if isinstance(raw, Mapping) else raw  # v2 wrapper or v1 list
        if not isinstance(entries, list):
            raise TariffInvalid(f"{where}.{name}: expected a list of periods")
        result[name] = tuple(
            _read_window(entry, f"{where}.{name}[{index}]") for index, entry in enumerate(entries)
        )
    return result


def _active_seasons(raw: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(raw, Mapping):
        return {}
    return {
        name: season
        for name, season in raw.items()
        if isinstance(season, Mapping) and season.get("tou_periods")
    }


def parse_tariff_content_v2(payload: Any) -> TouSchedule:
    """Read a Tesla tariff (any envelope, v2 or legacy v1) into a ``TouSchedule``.

    Faithful rather than strict: the result is not validated (a real tariff may leave days
    uncovered; run ``custom_tou.validate_schedule`` to check). Raises ``TariffInvalid`` when a
    period has no buy rate, a field is malformed, or the sell side uses windows the buy side
    does not (the model keeps one window set per period). A missing sell rate reads as 0 and is
    noted in ``notes``.
    """
    content = unwrap_tariff_content_v2(payload)
    notes: list[str] = []
    buy_seasons = _active_seasons(content.get("seasons"))
    if not buy_seasons:
        raise TariffInvalid("seasons: no season with periods")
    for name in _require_mapping(content.get("seasons"), "seasons"):
        if name not in buy_seasons:
            notes.append(f"skipped empty season '{name}'")
    sell_raw = content.get("sell_tariff")
    sell = sell_raw if isinstance(sell_raw, Mapping) else {}
    sell_seasons = _active_seasons(sell.get("seasons"))
    seasons = []
    for season_name, season_raw in buy_seasons.items():
        where = f"seasons.{season_name}"
        dates = []
        for key in ("fromMonth", "fromDay", "toMonth", "toDay"):
            value = season_raw.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TariffInvalid(f"{where}.{key}: required integer, got {value!r}")
            dates.append(value)
        windows_by_period = _read_period_windows(season_raw["tou_periods"], f"{where}.tou_periods")
        sell_windows: dict[str, tuple[TimeWindow, ...]] | None = None
        if sell_seasons:
            if season_name not in sell_seasons:
                raise TariffInvalid(f"sell_tariff has no season '{season_name}'")
            sell_windows = _read_period_windows(
                sell_seasons[season_name]["tou_periods"], f"sell_tariff.{where}.tou_periods"
            )
        periods = []
        for period, windows in windows_by_period.items():
            buy = _lookup(content.get("energy_charges"), season_name, period)
            if buy is None:
                raise TariffInvalid(f"energy_charges: no buy rate for {season_name}.{period}")
            if (
                sell_windows is not None
                and period in sell_windows
                and set(sell_windows[period]) != set(windows)
            ):
                raise TariffInvalid(
                    f"sell_tariff.{where}.tou_periods.{period}: windows differ from the buy "
                    "side; one window set per period is supported"
                )
            sell_rate = _lookup(sell.get("energy_charges"), season_name, period)
            if sell_rate is None:
                notes.append(f"no sell rate for {season_name}.{period}; read as 0")
                sell_rate = ZERO
            demand = _lookup(content.get("demand_charges"), season_name, period) or ZERO
            periods.append(TouPeriod(period, buy, sell_rate, windows, demand))
        seasons.append(
            TouSeason(season_name, dates[0], dates[1], dates[2], dates[3], tuple(periods))
        )
    daily = ZERO
    daily_raw = content.get("daily_charges")
    if isinstance(daily_raw, list):
        for index, charge in enumerate(daily_raw):
            if isinstance(charge, Mapping) and charge.get("amount") is not None:
                daily += _read_decimal(charge["amount"], f"daily_charges[{index}].amount")
    return TouSchedule(
        name=str(content.get("name") or ""),
        utility=str(content.get("utility") or ""),
        code=str(content.get("code") or ""),
        currency=str(content.get("currency") or CURRENCY),
        daily_supply_dollars=daily,
        seasons=tuple(seasons),
        notes=tuple(notes),
    )


def render_custom_tariff(schedule: TouSchedule) -> dict[str, Any]:
    """Validate ``schedule`` and render it as ``tariff_content_v2`` with its named periods."""
    validate_schedule(schedule)
    return render_schedule(schedule)
