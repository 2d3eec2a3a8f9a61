"""Custom time-of-use schedules: the model, its JSON form, its validation and its expansion.

A fixed TOU plan (any retailer) is a ``TouSchedule``: seasons (inclusive month/day ranges, a
range may wrap the new year, e.g. 1 Nov - 31 Mar), each holding named periods (PEAK, SHOULDER,
OFF_PEAK, SUPER_OFF_PEAK...) with a buy and a sell rate in **$/kWh** (Tesla's unit), an optional
demand rate in **$/kW** that applies inside that period's windows, and the time windows where the
period applies.
The schedule also carries the daily supply charge in **$/day**. The same model is what a Tesla
``tariff_content_v2`` is read back into (``tesla_format.parse_tariff_content_v2``).

Rules
-----
* Day of week: 0 = Monday ... 6 = Sunday (Tesla's convention). A window applies to every day of an
  inclusive day range; the range may wrap the week (``from_day_of_week=4, to_day_of_week=0`` is
  Fri, Sat, Sun, Mon).
* Times are site-local wall clock minutes after midnight: ``start_minute`` in 0..1439,
  ``end_minute`` in 1..1440 (1440 = midnight at the end of the day, exclusive).
  ``end_minute <= start_minute`` means the window runs past midnight into the NEXT day, which
  belongs to the window's start day, the way Tesla resolves ``tou_periods`` (a Friday
  21:00-07:00 window covers Saturday 00:00-07:00); the week wraps (Sunday night spills into
  Monday). Equal start and end is a full 24 h.
* Valid schedule (``validate_schedule``): every date of a year (29 Feb included) is in exactly one
  season; in every season each day of the week is covered exactly once over 24 h; names are unique
  and not the reserved Tesla fallback key ``ALL``; money is finite and non-negative.
* Expansion (``half_hour_rates_for``): the season of the date, then each half-hour's
  duration-weighted mean of the rates in force, rounded half-up to 4 decimals of $/kWh. A window
  that spills past midnight is taken from the same season's previous weekday, even on a season's
  first day (Tesla matches minute-of-week windows inside the season of today's date).

JSON form (``schedule_from_dict``; the web builder and ``build_tariff --custom FILE`` send this)
--------------------------------------------------------------------------------------------
::

    {
      "name": "Origin Go Variable (Ausgrid EA025)",   # required
      "utility": "Origin Energy",                      # required
      "code": "ORIGIN_EA025",                          # optional
      "currency": "AUD",                               # optional, only AUD
      "daily_supply_dollars": "1.10",                  # optional $/day; or "daily_supply_c"
      "seasons": [
        {
          "name": "Summer",
          "from": "11-01", "to": "03-31",             # MM-DD, inclusive, may wrap the year
          "periods": [
            {
              "name": "PEAK",
              "buy_c_per_kwh": "45.1",                 # or "buy_dollars_per_kwh": "0.451"
              "sell_c_per_kwh": "5",                   # optional, default 0
              "demand_dollars_per_kw": "0.35",         # optional (default 0)
              "windows": [{"days": "weekdays", "from": "14:00", "to": "20:00"}]
            }
          ]
        }
      ]
    }

``days`` is ``"all"``, ``"weekdays"``, ``"weekends"``, one day (``"sat"``) or an inclusive range
(``"fri-mon"``, may wrap the week). ``from``/``to`` are ``HH:MM``; ``to`` may be ``"24:00"`` or
``"00:00"`` for midnight; ``to`` at or before ``from`` wraps past midnight. Numbers may be JSON
numbers or strings (strings avoid float noise). Exactly one unit of each rate is given.
``tests/tariffs/engine/data/custom_schedule_example.json`` is a complete example.

Errors are ``ScheduleInvalid`` with a message naming the field, or the season, day and time.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from tariffs.engine.bounds import amount_problem, text_problem
from tariffs.engine.model import PERIODS_PER_DAY, HalfHourRates

MINUTES_PER_DAY = 24 * 60
HALF_HOUR_MINUTES = 30
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_ABBREVIATIONS = {name[:3].lower(): index for index, name in enumerate(DAY_NAMES)}
_DAY_TYPES = {"all": (0, 6), "weekdays": (0, 4), "weekends": (5, 6)}
# Tesla falls back to the key "ALL" when a season or period has no own rate (python-tesla-fleet-api
# tariff.py `_lookup_price`), so a season or period called ALL would be ambiguous.
RESERVED_NAME = "ALL"
RATE_QUANTUM = Decimal("0.0001")  # SPEC §4.8: $/kWh to 4 decimals
# A leap year, so that 29 Feb is checked too.
_COVERAGE_YEAR = 2024
_DAYS_IN_COVERAGE_YEAR = 366
ZERO = Decimal(0)


class ScheduleInvalid(ValueError):
    """A custom schedule (or its JSON form) breaks a rule; the message says where."""


def format_minute(minute: int) -> str:
    """``HH:MM`` for minutes after midnight; 1440 is ``24:00``."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_range(from_day: int, to_day: int) -> tuple[int, ...]:
    if from_day <= to_day:
        return tuple(range(from_day, to_day + 1))
    return (*range(from_day, 7), *range(0, to_day + 1))


@dataclass(frozen=True)
class TimeWindow:
    """Local wall-clock minutes [start, end) on each day of an inclusive day-of-week range."""

    from_day_of_week: int
    to_day_of_week: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        for label, day in (("from", self.from_day_of_week), ("to", self.to_day_of_week)):
            if not 0 <= day <= 6:
                raise ScheduleInvalid(f"{label} day of week {day} is outside 0 (Mon)..6 (Sun)")
        if not 0 <= self.start_minute < MINUTES_PER_DAY:
            raise ScheduleInvalid(f"window start minute {self.start_minute} is outside 0..1439")
        if not 0 < self.end_minute <= MINUTES_PER_DAY:
            raise ScheduleInvalid(f"window end minute {self.end_minute} is outside 1..1440")

    @cached_property
    def days(self) -> tuple[int, ...]:
        """The days of week (0 = Monday) the window starts on."""
        return _day_range(self.from_day_of_week, self.to_day_of_week)

    @property
    def wraps_midnight(self) -> bool:
        return self.end_minute <= self.start_minute

    def pieces_on(self, weekday: int) -> list[tuple[int, int]]:
        """The [start, end) minutes this window covers on ``weekday``, spill-over included."""
        pieces: list[tuple[int, int]] = []
        days = self.days
        if not self.wraps_midnight:
            if weekday in days:
                pieces.append((self.start_minute, self.end_minute))
            return pieces
        if (weekday - 1) % 7 in days:
            pieces.append((0, self.end_minute))
        if weekday in days:
            pieces.append((self.start_minute, MINUTES_PER_DAY))
        return pieces

    def describe(self) -> str:
        days = DAY_NAMES[self.from_day_of_week][:3]
        if self.to_day_of_week != self.from_day_of_week:
            days += f"-{DAY_NAMES[self.to_day_of_week][:3]}"
        return f"{days} {format_minute(self.start_minute)}-{format_minute(self.end_minute)}"


@dataclass(frozen=True)
class TouPeriod:
    """One named rate period of a season, in force inside its windows."""

    name: str
    buy_dollars_per_kwh: Decimal
    sell_dollars_per_kwh: Decimal
    windows: tuple[TimeWindow, ...]
    demand_dollars_per_kw: Decimal = ZERO


@dataclass(frozen=True)
class TouSeason:
    """An inclusive recurring date range (may wrap the new year) and its periods."""

    name: str
    from_month: int
    from_day: int
    to_month: int
    to_day: int
    periods: tuple[TouPeriod, ...]

    def covers(self, day: date) -> bool:
        """Whether ``day`` falls in this season (29 Feb counts where a range spans it)."""
        key = (day.month, day.day)
        start = (self.from_month, self.from_day)
        end = (self.to_month, self.to_day)
        if start <= end:
            return start <= key <= end
        return key >= start or key <= end

    def describe_dates(self) -> str:
        return (
            f"{self.from_day} {calendar.month_abbr[self.from_month]}-"
            f"{self.to_day} {calendar.month_abbr[self.to_month]}"
        )

    def segments_on(self, weekday: int) -> list[tuple[int, int, TouPeriod]]:
        """Every (start, end, period) piece in force on ``weekday``, sorted by start."""
        segments = [
            (start, end, period)
            for period in self.periods
            for window in period.windows
            for start, end in window.pieces_on(weekday)
        ]
        segments.sort(key=lambda segment: (segment[0], segment[1]))
        return segments


@dataclass(frozen=True)
class TouSchedule:
    """A fixed TOU plan, or a Tesla tariff read back into the same shape."""

    name: str
    utility: str
    seasons: tuple[TouSeason, ...]
    daily_supply_dollars: Decimal = ZERO
    currency: str = "AUD"
    code: str = ""
    notes: tuple[str, ...] = field(default=(), compare=False)

    def season_for(self, day: date) -> TouSeason:
        for season in self.seasons:
            if season.covers(day):
                return season
        raise ScheduleInvalid(f"no season of '{self.name}' covers {day.isoformat()}")


# --- validation ------------------------------------------------------------------------------


def _check_money(value: Decimal, where: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ScheduleInvalid(f"{where}: {value!r} is not a finite Decimal")
    if value < 0:
        raise ScheduleInvalid(f"{where}: {value} is negative (Tesla rejects negative rates)")
    if problem := amount_problem(value):
        raise ScheduleInvalid(f"{where}: {value} {problem}")


def _check_name(value: str, where: str) -> None:
    if problem := text_problem(value):
        raise ScheduleInvalid(f"{where} {problem}")


def _valid_month_day(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(_COVERAGE_YEAR, month)[1]


def check_season_dates(seasons: Sequence[TouSeason]) -> None:
    """Every date of a (leap) year in exactly one season; raises ``ScheduleInvalid``."""
    for season in seasons:
        for label, month, day_of_month in (
            ("from", season.from_month, season.from_day),
            ("to", season.to_month, season.to_day),
        ):
            if not _valid_month_day(month, day_of_month):
                raise ScheduleInvalid(
                    f"season '{season.name}': {label} date {month}-{day_of_month} is invalid"
                )
    # Each season as day-of-year ranges of a leap year; a year-wrapping season is two ranges.
    ranges: list[tuple[int, int, str]] = []
    for season in seasons:
        start = _day_of_year(season.from_month, season.from_day)
        end = _day_of_year(season.to_month, season.to_day)
        if start <= end:
            ranges.append((start, end, season.name))
        else:
            ranges.extend([(start, _DAYS_IN_COVERAGE_YEAR, season.name), (1, end, season.name)])
    ranges.sort()
    uncovered: list[tuple[int, int]] = []
    cursor, owner = 1, ""
    for start, end, name in ranges:
        if start < cursor:
            raise ScheduleInvalid(
                f"{_describe_day(start)} is in more than one season: '{owner}', '{name}'"
            )
        if start > cursor:
            uncovered.append((cursor, start - 1))
        cursor, owner = end + 1, name
    if cursor <= _DAYS_IN_COVERAGE_YEAR:
        uncovered.append((cursor, _DAYS_IN_COVERAGE_YEAR))
    if uncovered:
        runs = ", ".join(
            _describe_day(first) + ("" if first == last else f"-{_describe_day(last)}")
            for first, last in uncovered
        )
        raise ScheduleInvalid(f"dates not covered by any season: {runs}")


def _day_of_year(month: int, day: int) -> int:
    return date(_COVERAGE_YEAR, month, day).timetuple().tm_yday


def _describe_day(day_of_year: int) -> str:
    day = date(_COVERAGE_YEAR, 1, 1) + timedelta(days=day_of_year - 1)
    return f"{day.day} {calendar.month_abbr[day.month]}"


def check_day_coverage(season: TouSeason) -> None:
    """Each weekday of ``season`` covered exactly once over 24 h; raises ``ScheduleInvalid``."""
    for weekday in range(7):
        where = f"season '{season.name}', {DAY_NAMES[weekday]}"
        cursor = 0
        previous: TouPeriod | None = None
        for start, end, period in season.segments_on(weekday):
            if start > cursor:
                raise ScheduleInvalid(
                    f"{where}: {format_minute(cursor)}-{format_minute(start)} "
                    "is not covered by any period"
                )
            if start < cursor and previous is not None:
                raise ScheduleInvalid(
                    f"{where}: {format_minute(start)}-{format_minute(min(cursor, end))} "
                    f"is covered by both {previous.name} and {period.name}"
                )
            if end > cursor:
                cursor, previous = end, period
        if cursor < MINUTES_PER_DAY:
            raise ScheduleInvalid(
                f"{where}: {format_minute(cursor)}-24:00 is not covered by any period"
            )


def validate_schedule(schedule: TouSchedule) -> None:
    """Raise ``ScheduleInvalid`` unless ``schedule`` is complete and unambiguous (module rules)."""
    if not schedule.name.strip():
        raise ScheduleInvalid("schedule name is empty")
    if not schedule.utility.strip():
        raise ScheduleInvalid("utility is empty")
    _check_name(schedule.name, "schedule name")
    _check_name(schedule.utility, "utility")
    _check_name(schedule.code, "code")
    if schedule.currency != "AUD":
        raise ScheduleInvalid(f"currency {schedule.currency!r} is not AUD")
    _check_money(schedule.daily_supply_dollars, "daily supply charge")
    if not schedule.seasons:
        raise ScheduleInvalid("schedule has no season")
    season_names = [season.name for season in schedule.seasons]
    for season in schedule.seasons:
        if not season.name.strip():
            raise ScheduleInvalid("a season has an empty name")
        _check_name(season.name, f"season name '{season.name[:40]}'")
        if season_names.count(season.name) > 1:
            raise ScheduleInvalid(f"season name '{season.name}' is used twice")
        if season.name == RESERVED_NAME:
            raise ScheduleInvalid(f"season name '{RESERVED_NAME}' is reserved by Tesla")
        if not season.periods:
            raise ScheduleInvalid(f"season '{season.name}' has no period")
        period_names = [period.name for period in season.periods]
        for period in season.periods:
            where = f"season '{season.name}', period '{period.name}'"
            if not period.name.strip():
                raise ScheduleInvalid(f"season '{season.name}': a period has an empty name")
            _check_name(period.name, f"season '{season.name}': period name '{period.name[:40]}'")
            if period_names.count(period.name) > 1:
                raise ScheduleInvalid(f"{where}: the name is used twice")
            if period.name == RESERVED_NAME:
                raise ScheduleInvalid(f"{where}: the name '{RESERVED_NAME}' is reserved by Tesla")
            if not period.windows:
                raise ScheduleInvalid(f"{where}: no time window")
            _check_money(period.buy_dollars_per_kwh, f"{where} buy rate")
            _check_money(period.sell_dollars_per_kwh, f"{where} sell rate")
            _check_money(period.demand_dollars_per_kw, f"{where} demand rate")
    check_season_dates(schedule.seasons)
    for season in schedule.seasons:
        check_day_coverage(season)


# --- expansion -------------------------------------------------------------------------------


def _round_rate(value: Decimal) -> Decimal:
    return value.quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)


def half_hour_rates_for(schedule: TouSchedule, local_date: date) -> HalfHourRates:
    """The 48 buy/sell rates of ``local_date`` (site-local), per the module's expansion rule.

    Raises ``ScheduleInvalid`` when no season covers the date or a half-hour is not (or twice)
    covered. A clock-change day is still 48 wall-clock half-hours: the tariff is wall clock.
    """
    season = schedule.season_for(local_date)
    segments = season.segments_on(local_date.weekday())
    buy: list[Decimal] = []
    sell: list[Decimal] = []
    for index in range(PERIODS_PER_DAY):
        slot_start = index * HALF_HOUR_MINUTES
        slot_end = slot_start + HALF_HOUR_MINUTES
        covered = 0
        buy_sum = sell_sum = ZERO
        for start, end, period in segments:
            overlap = min(end, slot_end) - max(start, slot_start)
            if overlap <= 0:
                continue
            covered += overlap
            buy_sum += period.buy_dollars_per_kwh * overlap
            sell_sum += period.sell_dollars_per_kwh * overlap
        if covered != HALF_HOUR_MINUTES:
            problem = "is not fully covered" if covered < HALF_HOUR_MINUTES else "is covered twice"
            raise ScheduleInvalid(
                f"season '{season.name}', {DAY_NAMES[local_date.weekday()]} "
                f"{format_minute(slot_start)}-{format_minute(slot_end)} {problem}"
            )
        buy.append(_round_rate(buy_sum / HALF_HOUR_MINUTES))
        sell.append(_round_rate(sell_sum / HALF_HOUR_MINUTES))
    return HalfHourRates(buy_dollars_per_kwh=tuple(buy), sell_dollars_per_kwh=tuple(sell))


# --- JSON form -------------------------------------------------------------------------------


def _require(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise ScheduleInvalid(f"{where}: '{key}' is required")
    return mapping[key]


def _as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScheduleInvalid(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ScheduleInvalid(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _as_text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScheduleInvalid(f"{where}: expected a non-empty string")
    return value.strip()


def _as_decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ScheduleInvalid(f"{where}: {value!r} is not a number")
    try:
        # str() of a float is its shortest repr, so 0.1 becomes Decimal("0.1"), not float noise.
        number = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise ScheduleInvalid(f"{where}: {value!r} is not a number") from error
    if not number.is_finite():
        raise ScheduleInvalid(f"{where}: {value!r} is not finite")
    return number


def _money(
    mapping: Mapping[str, Any], dollars_key: str, cents_key: str, where: str, *, required: bool
) -> Decimal:
    has_dollars, has_cents = dollars_key in mapping, cents_key in mapping
    if has_dollars and has_cents:
        raise ScheduleInvalid(f"{where}: give '{dollars_key}' or '{cents_key}', not both")
    if has_dollars:
        return _as_decimal(mapping[dollars_key], f"{where}.{dollars_key}")
    if has_cents:
        return _as_decimal(mapping[cents_key], f"{where}.{cents_key}") / 100
    if required:
        raise ScheduleInvalid(f"{where}: '{dollars_key}' or '{cents_key}' is required")
    return ZERO


def _parse_month_day(value: Any, where: str) -> tuple[int, int]:
    text = _as_text(value, where)
    parts = text.split("-")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ScheduleInvalid(f"{where}: {text!r} is not MM-DD")
    month, day = int(parts[0]), int(parts[1])
    if not _valid_month_day(month, day):
        raise ScheduleInvalid(f"{where}: {text!r} is not a calendar date")
    return month, day


def _parse_clock(value: Any, where: str, *, is_end: bool) -> int:
    text = _as_text(value, where)
    parts = text.split(":")
    if len(parts) != 2 or not all(part.isdigit() and len(part) == 2 for part in parts):
        raise ScheduleInvalid(f"{where}: {text!r} is not HH:MM")
    minute = int(parts[0]) * 60 + int(parts[1])
    if int(parts[1]) > 59 or minute > MINUTES_PER_DAY or (minute == MINUTES_PER_DAY and not is_end):
        raise ScheduleInvalid(f"{where}: {text!r} is not a time of day")
    if is_end and minute == 0:
        return MINUTES_PER_DAY  # "00:00" as an end is the coming midnight
    return minute


def _parse_day(text: str, where: str) -> int:
    key = text.strip().lower()[:3]
    if key not in _DAY_ABBREVIATIONS or not DAY_NAMES[_DAY_ABBREVIATIONS[key]].lower().startswith(
        text.strip().lower()
    ):
        raise ScheduleInvalid(f"{where}: {text!r} is not a day of the week")
    return _DAY_ABBREVIATIONS[key]


def _parse_days(value: Any, where: str) -> tuple[int, int]:
    text = _as_text(value, where).lower()
    if text in _DAY_TYPES:
        return _DAY_TYPES[text]
    if "-" in text:
        first, _, last = text.partition("-")
        return _parse_day(first, where), _parse_day(last, where)
    day = _parse_day(text, where)
    return day, day


def _window_from_dict(raw: Any, where: str) -> TimeWindow:
    mapping = _as_mapping(raw, where)
    from_day, to_day = _parse_days(_require(mapping, "days", where), f"{where}.days")
    start = _parse_clock(_require(mapping, "from", where), f"{where}.from", is_end=False)
    end = _parse_clock(_require(mapping, "to", where), f"{where}.to", is_end=True)
    return TimeWindow(from_day, to_day, start, end)


def _period_from_dict(raw: Any, where: str) -> TouPeriod:
    mapping = _as_mapping(raw, where)
    windows = _as_list(_require(mapping, "windows", where), f"{where}.windows")
    return TouPeriod(
        name=_as_text(_require(mapping, "name", where), f"{where}.name").upper(),
        buy_dollars_per_kwh=_money(
            mapping, "buy_dollars_per_kwh", "buy_c_per_kwh", where, required=True
        ),
        sell_dollars_per_kwh=_money(
            mapping, "sell_dollars_per_kwh", "sell_c_per_kwh", where, required=False
        ),
        demand_dollars_per_kw=_money(
            mapping, "demand_dollars_per_kw", "demand_c_per_kw", where, required=False
        ),
        windows=tuple(
            _window_from_dict(window, f"{where}.windows[{index}]")
            for index, window in enumerate(windows)
        ),
    )


def _season_from_dict(raw: Any, where: str) -> TouSeason:
    mapping = _as_mapping(raw, where)
    from_month, from_day = _parse_month_day(_require(mapping, "from", where), f"{where}.from")
    to_month, to_day = _parse_month_day(_require(mapping, "to", where), f"{where}.to")
    periods = _as_list(_require(mapping, "periods", where), f"{where}.periods")
    return TouSeason(
        name=_as_text(_require(mapping, "name", where), f"{where}.name"),
        from_month=from_month,
        from_day=from_day,
        to_month=to_month,
        to_day=to_day,
        periods=tuple(
            _period_from_dict(period, f"{where}.periods[{index}]")
            for index, period in enumerate(periods)
        ),
    )


def schedule_from_dict(raw: Any) -> TouSchedule:
    """Build and validate a schedule from its JSON form (module docstring); ``ScheduleInvalid``."""
    mapping = _as_mapping(raw, "schedule")
    seasons = _as_list(_require(mapping, "seasons", "schedule"), "seasons")
    schedule = TouSchedule(
        name=_as_text(_require(mapping, "name", "schedule"), "name"),
        utility=_as_text(_require(mapping, "utility", "schedule"), "utility"),
        code=str(mapping.get("code", "")).strip(),
        currency=_as_text(mapping.get("currency", "AUD"), "currency"),
        daily_supply_dollars=_money(
            mapping, "daily_supply_dollars", "daily_supply_c", "schedule", required=False
        ),
        seasons=tuple(
            _season_from_dict(season, f"seasons[{index}]") for index, season in enumerate(seasons)
        ),
    )
    validate_schedule(schedule)
    return schedule


def _money_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def schedule_to_dict(schedule: TouSchedule) -> dict[str, Any]:
    """The JSON form of ``schedule`` ($/kWh as strings): a read-back, editable and re-sendable."""
    seasons = []
    for season in schedule.seasons:
        periods = []
        for period in season.periods:
            windows = []
            for window in period.windows:
                if window.from_day_of_week == window.to_day_of_week:
                    days = DAY_NAMES[window.from_day_of_week][:3].lower()
                else:
                    days = (
                        f"{DAY_NAMES[window.from_day_of_week][:3].lower()}-"
                        f"{DAY_NAMES[window.to_day_of_week][:3].lower()}"
                    )
                windows.append(
                    {
                        "days": days,
                        "from": format_minute(window.start_minute),
                        "to": format_minute(window.end_minute),
                    }
                )
            entry: dict[str, Any] = {
                "name": period.name,
                "buy_dollars_per_kwh": _money_text(period.buy_dollars_per_kwh),
                "sell_dollars_per_kwh": _money_text(period.sell_dollars_per_kwh),
                "windows": windows,
            }
            if period.demand_dollars_per_kw:
                entry["demand_dollars_per_kw"] = _money_text(period.demand_dollars_per_kw)
            periods.append(entry)
        seasons.append(
            {
                "name": season.name,
                "from": f"{season.from_month:02d}-{season.from_day:02d}",
                "to": f"{season.to_month:02d}-{season.to_day:02d}",
                "periods": periods,
            }
        )
    result: dict[str, Any] = {
        "name": schedule.name,
        "utility": schedule.utility,
        "currency": schedule.currency,
        "daily_supply_dollars": _money_text(schedule.daily_supply_dollars),
        "seasons": seasons,
    }
    if schedule.code:
        result["code"] = schedule.code
    return result
