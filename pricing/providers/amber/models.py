"""Typed results of the Amber API and the parsers that build them from Amber's JSON.

Units and conventions (Amber API 2.0.0):

- Prices are **cents per kWh including GST** (``Decimal``, exactly as sent). ``price_c_per_kwh``
  is what the customer pays for energy on that channel. On the ``feedIn`` channel it is what the
  customer *pays to export*: **negative means the household earns** (e.g. -29.86 = paid
  29.86 c/kWh for exporting). ``spot_c_per_kwh`` is the NEM spot price incl. GST, identical on
  every channel of one interval.
- ``start_time`` / ``end_time`` are aware UTC datetimes. Amber starts each interval one second
  after the previous end (``14:00:01Z``-``14:05:00Z``); we keep the values as sent.
- ``nem_time`` is the interval **end** in NEM time (aware, UTC+10 all year, as sent).
- ``nem_date`` is the NEM trading day the interval belongs to (the 00:00 interval end belongs to
  the previous day).

The parsers raise ``InvalidResponse`` (never ``KeyError``/``TypeError``) on anything that does not
match the documented shape. Unknown extra keys are ignored so additive API changes do not break us.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from .errors import InvalidResponse


class IntervalType(StrEnum):
    ACTUAL = "ActualInterval"
    CURRENT = "CurrentInterval"
    FORECAST = "ForecastInterval"


class ChannelType(StrEnum):
    GENERAL = "general"
    CONTROLLED_LOAD = "controlledLoad"
    FEED_IN = "feedIn"


class SpikeStatus(StrEnum):
    NONE = "none"
    POTENTIAL = "potential"
    SPIKE = "spike"


# Amber documents these descriptors; ``negative`` is deprecated (replaced by ``extremelyLow``).
# Kept as plain strings on the models: a new descriptor must not stop price sync.
KNOWN_PRICE_DESCRIPTORS = frozenset(
    {"negative", "extremelyLow", "veryLow", "low", "neutral", "high", "spike"}
)


@dataclass(frozen=True, slots=True)
class AdvancedPrice:
    """Amber's own forecast band, c/kWh incl. GST and network/market fees."""

    low_c_per_kwh: Decimal
    predicted_c_per_kwh: Decimal
    high_c_per_kwh: Decimal


@dataclass(frozen=True, slots=True)
class PriceRange:
    """Possible NEM spot price range when prices are volatile, c/kWh."""

    min_c_per_kwh: Decimal
    max_c_per_kwh: Decimal


@dataclass(frozen=True, slots=True)
class TariffInformation:
    """Network tariff context of an interval; every field is optional in the API.

    ``period``: offPeak | shoulder | solarSponge | peak. ``season``: default | summer | autumn |
    winter | spring | nonSummer | holiday | weekend | weekendHoliday | weekday.
    """

    period: str | None = None
    season: str | None = None
    block: int | None = None
    demand_window: bool | None = None


@dataclass(frozen=True, slots=True)
class PriceInterval:
    """One priced interval on one channel (Actual, Current or Forecast).

    ``estimate`` is only set on Current intervals (True until the price is locked in).
    ``advanced_price`` is present on forecasts up to about 24 h ahead (and sometimes on the
    current interval); ``price_range`` only when prices are volatile.
    """

    type: IntervalType
    channel_type: ChannelType
    duration_min: int
    start_time: datetime
    end_time: datetime
    nem_time: datetime
    nem_date: date
    price_c_per_kwh: Decimal
    spot_c_per_kwh: Decimal
    renewables_pct: float
    spike_status: SpikeStatus
    descriptor: str
    tariff_information: TariffInformation | None = None
    advanced_price: AdvancedPrice | None = None
    price_range: PriceRange | None = None
    estimate: bool | None = None

    @property
    def is_forecast(self) -> bool:
        return self.type is IntervalType.FORECAST

    @property
    def is_actual(self) -> bool:
        return self.type is IntervalType.ACTUAL

    @property
    def is_current(self) -> bool:
        return self.type is IntervalType.CURRENT


@dataclass(frozen=True, slots=True)
class UsageInterval:
    """Metered energy on one channel for one billing interval.

    ``kwh`` is consumed energy; generation (export) is negative. ``cost_c`` is cents incl. GST
    (negative = credit). ``quality`` is ``estimated`` or ``billable``.
    """

    channel_identifier: str
    channel_type: ChannelType
    duration_min: int
    start_time: datetime
    end_time: datetime
    nem_time: datetime
    nem_date: date
    kwh: Decimal
    cost_c: Decimal
    quality: str
    price_c_per_kwh: Decimal
    spot_c_per_kwh: Decimal
    renewables_pct: float
    spike_status: SpikeStatus
    descriptor: str
    tariff_information: TariffInformation | None = None


@dataclass(frozen=True, slots=True)
class Channel:
    identifier: str
    type: ChannelType
    tariff: str


@dataclass(frozen=True, slots=True)
class Site:
    """An Amber site (one NMI). ``interval_length_min`` is the billing interval, 5 or 30."""

    id: str
    nmi: str
    channels: tuple[Channel, ...]
    network: str
    status: str
    interval_length_min: int
    active_from: date | None = None
    closed_on: date | None = None


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The token's request budget as reported by the last response's ``RateLimit-*`` headers.

    ``reset_at`` is an aware UTC datetime (our clock + ``RateLimit-Reset`` seconds). ``window_s``
    and ``policy`` come from ``RateLimit-Policy`` (observed ``50;w=300``: 50 requests per 300 s).
    Any field is None when Amber did not send it.
    """

    limit: int | None
    remaining: int | None
    reset_at: datetime | None
    policy: str | None
    window_s: int | None
    observed_at: datetime

    def seconds_until_reset(self, now: datetime) -> float:
        """Seconds from ``now`` (aware) until the window resets; 0 when unknown or past."""
        if self.reset_at is None:
            return 0.0
        return max(0.0, (self.reset_at - now).total_seconds())


# --- parsing -------------------------------------------------------------------------------------

JsonObject = Mapping[str, object]
_T = TypeVar("_T")
_E = TypeVar("_E", bound=StrEnum)

_POLICY_WINDOW = re.compile(r"(?:^|;)\s*w\s*=\s*(\d+)")
_LEADING_INT = re.compile(r"^\s*(\d+)")


def parse_price_intervals(payload: object) -> list[PriceInterval]:
    """Parse a JSON array of Amber Interval objects (REST body or WebSocket ``data.prices``)."""
    items = _require_list(payload, "prices")
    return [_with_index(index, parse_price_interval, item) for index, item in enumerate(items)]


def parse_price_interval(raw: object) -> PriceInterval:
    """Parse one ActualInterval / CurrentInterval / ForecastInterval object."""
    obj = _require_object(raw, "interval")
    interval_type = _enum(IntervalType, obj, "type")
    estimate = None
    if interval_type is IntervalType.CURRENT:
        estimate = _bool(obj, "estimate")  # required on CurrentInterval
    return PriceInterval(
        type=interval_type,
        channel_type=_enum(ChannelType, obj, "channelType"),
        duration_min=_positive_int(obj, "duration"),
        start_time=_utc_datetime(obj, "startTime"),
        end_time=_utc_datetime(obj, "endTime"),
        nem_time=_aware_datetime(obj, "nemTime"),
        nem_date=_date(obj, "date"),
        price_c_per_kwh=_decimal(obj, "perKwh"),
        spot_c_per_kwh=_decimal(obj, "spotPerKwh"),
        renewables_pct=float(_decimal(obj, "renewables")),
        spike_status=_enum(SpikeStatus, obj, "spikeStatus"),
        descriptor=_str(obj, "descriptor"),
        tariff_information=_tariff_information(obj.get("tariffInformation")),
        advanced_price=_advanced_price(obj.get("advancedPrice")),
        price_range=_price_range(obj.get("range")),
        estimate=estimate,
    )


def parse_usage_intervals(payload: object) -> list[UsageInterval]:
    items = _require_list(payload, "usage")
    return [_with_index(index, parse_usage_interval, item) for index, item in enumerate(items)]


def parse_usage_interval(raw: object) -> UsageInterval:
    obj = _require_object(raw, "usage")
    return UsageInterval(
        channel_identifier=_str(obj, "channelIdentifier"),
        channel_type=_enum(ChannelType, obj, "channelType"),
        duration_min=_positive_int(obj, "duration"),
        start_time=_utc_datetime(obj, "startTime"),
        end_time=_utc_datetime(obj, "endTime"),
        nem_time=_aware_datetime(obj, "nemTime"),
        nem_date=_date(obj, "date"),
        kwh=_decimal(obj, "kwh"),
        cost_c=_decimal(obj, "cost"),
        quality=_str(obj, "quality"),
        price_c_per_kwh=_decimal(obj, "perKwh"),
        spot_c_per_kwh=_decimal(obj, "spotPerKwh"),
        renewables_pct=float(_decimal(obj, "renewables")),
        spike_status=_enum(SpikeStatus, obj, "spikeStatus"),
        descriptor=_str(obj, "descriptor"),
        tariff_information=_tariff_information(obj.get("tariffInformation")),
    )


def parse_sites(payload: object) -> list[Site]:
    items = _require_list(payload, "sites")
    return [_with_index(index, parse_site, item) for index, item in enumerate(items)]


def parse_site(raw: object) -> Site:
    obj = _require_object(raw, "site")
    channels = tuple(
        Channel(
            identifier=_str(channel, "identifier"),
            type=_enum(ChannelType, channel, "type"),
            tariff=_str(channel, "tariff"),
        )
        for channel in (
            _require_object(item, "channel")
            for item in _require_list(obj.get("channels"), "channels")
        )
    )
    return Site(
        id=_str(obj, "id"),
        nmi=_str(obj, "nmi"),
        channels=channels,
        network=_str(obj, "network"),
        status=_str(obj, "status"),
        interval_length_min=_positive_int(obj, "intervalLength"),
        active_from=_date(obj, "activeFrom") if obj.get("activeFrom") is not None else None,
        closed_on=_date(obj, "closedOn") if obj.get("closedOn") is not None else None,
    )


def parse_rate_limit(headers: Mapping[str, str], *, now: datetime) -> RateLimitStatus | None:
    """Read the IETF-draft ``RateLimit-*`` headers; None when none of them is present.

    ``headers`` must be case-insensitive (``requests`` gives a ``CaseInsensitiveDict``).
    """
    limit = _header_int(headers.get("RateLimit-Limit"))
    remaining = _header_int(headers.get("RateLimit-Remaining"))
    reset_s = _header_int(headers.get("RateLimit-Reset"))
    policy = headers.get("RateLimit-Policy")
    if limit is None and remaining is None and reset_s is None and policy is None:
        return None
    window_s = None
    if policy is not None:
        match = _POLICY_WINDOW.search(policy)
        window_s = int(match.group(1)) if match else None
    return RateLimitStatus(
        limit=limit,
        remaining=remaining,
        reset_at=now + timedelta(seconds=reset_s) if reset_s is not None else None,
        policy=policy,
        window_s=window_s,
        observed_at=now,
    )


def _header_int(value: str | None) -> int | None:
    # Older drafts allow "50, 50;w=300"; take the leading integer.
    if value is None:
        return None
    match = _LEADING_INT.match(value)
    return int(match.group(1)) if match else None


def _with_index(index: int, parser: Callable[[object], _T], item: object) -> _T:
    try:
        return parser(item)
    except InvalidResponse as exc:
        raise InvalidResponse(f"item {index}: {exc.message}") from None


def _require_list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise InvalidResponse(f"expected a JSON array of {what}, got {type(value).__name__}")
    return value


def _require_object(value: object, what: str) -> JsonObject:
    if not isinstance(value, dict):
        raise InvalidResponse(f"expected a JSON object for {what}, got {type(value).__name__}")
    return value


def _field(obj: JsonObject, key: str) -> object:
    if key not in obj or obj[key] is None:
        raise InvalidResponse(f"missing field {key!r}")
    return obj[key]


def _str(obj: JsonObject, key: str) -> str:
    value = _field(obj, key)
    if not isinstance(value, str):
        raise InvalidResponse(f"field {key!r} is not a string")
    return value


def _bool(obj: JsonObject, key: str) -> bool:
    value = _field(obj, key)
    if not isinstance(value, bool):
        raise InvalidResponse(f"field {key!r} is not a boolean")
    return value


def _decimal(obj: JsonObject, key: str) -> Decimal:
    return _as_decimal(_field(obj, key), key)


def _as_decimal(value: object, key: str) -> Decimal:
    # The client parses JSON floats as Decimal; ints (and floats from other callers) are accepted.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise InvalidResponse(f"field {key!r} is not a number")
    result = value if isinstance(value, Decimal) else Decimal(str(value))
    if not result.is_finite():
        raise InvalidResponse(f"field {key!r} is not a finite number")
    return result


def _positive_int(obj: JsonObject, key: str) -> int:
    value = _field(obj, key)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidResponse(f"field {key!r} is not a positive integer")
    return value


def _enum(enum_type: type[_E], obj: JsonObject, key: str) -> _E:
    value = _str(obj, key)
    try:
        return enum_type(value)
    except ValueError:
        raise InvalidResponse(f"field {key!r} has unknown value {value!r}") from None


def _parse_iso_datetime(obj: JsonObject, key: str) -> datetime:
    value = _str(obj, key)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidResponse(f"field {key!r} is not an ISO 8601 datetime") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidResponse(f"field {key!r} has no UTC offset")
    return parsed


def _aware_datetime(obj: JsonObject, key: str) -> datetime:
    return _parse_iso_datetime(obj, key)


def _utc_datetime(obj: JsonObject, key: str) -> datetime:
    return _parse_iso_datetime(obj, key).astimezone(UTC)


def _date(obj: JsonObject, key: str) -> date:
    value = _str(obj, key)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidResponse(f"field {key!r} is not an ISO 8601 date") from None


def _optional_object(value: object, key: str) -> JsonObject | None:
    if value is None:
        return None
    return _require_object(value, key)


def _tariff_information(value: object) -> TariffInformation | None:
    obj = _optional_object(value, "tariffInformation")
    if obj is None:
        return None
    period = obj.get("period")
    season = obj.get("season")
    block = obj.get("block")
    demand_window = obj.get("demandWindow")
    if period is not None and not isinstance(period, str):
        raise InvalidResponse("field 'tariffInformation.period' is not a string")
    if season is not None and not isinstance(season, str):
        raise InvalidResponse("field 'tariffInformation.season' is not a string")
    if demand_window is not None and not isinstance(demand_window, bool):
        raise InvalidResponse("field 'tariffInformation.demandWindow' is not a boolean")
    block_number = None
    if block is not None:
        block_decimal = _as_decimal(block, "tariffInformation.block")
        if block_decimal != block_decimal.to_integral_value():
            raise InvalidResponse("field 'tariffInformation.block' is not an integer")
        block_number = int(block_decimal)
    return TariffInformation(
        period=period, season=season, block=block_number, demand_window=demand_window
    )


def _advanced_price(value: object) -> AdvancedPrice | None:
    obj = _optional_object(value, "advancedPrice")
    if obj is None:
        return None
    return AdvancedPrice(
        low_c_per_kwh=_decimal(obj, "low"),
        predicted_c_per_kwh=_decimal(obj, "predicted"),
        high_c_per_kwh=_decimal(obj, "high"),
    )


def _price_range(value: object) -> PriceRange | None:
    obj = _optional_object(value, "range")
    if obj is None:
        return None
    return PriceRange(min_c_per_kwh=_decimal(obj, "min"), max_c_per_kwh=_decimal(obj, "max"))
