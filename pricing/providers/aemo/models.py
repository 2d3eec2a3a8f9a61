"""Typed AEMO NEM price results and the parsers for the dashboard JSON reports.

Conventions:

- Prices are ``rrp_dollars_per_mwh``: the regional reference price in **$/MWh excluding GST**
  (``Decimal`` as sent; can be negative, floor -1,000, cap 20,300 in 2025-26).
  c/kWh ex GST = $/MWh / 10.
- AEMO timestamps (``SETTLEMENTDATE``) are NEM time, **UTC+10 all year (no DST)**, without an
  offset, and mark the interval **end**. We return aware UTC ``interval_end_utc`` and
  ``interval_start_utc`` (= end - duration).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

from .errors import InvalidResponse, UnknownRegion

NEM_TIMEZONE = timezone(timedelta(hours=10), "NEM")
DISPATCH_INTERVAL_MIN = 5
PREDISPATCH_INTERVAL_MIN = 30


class Region(StrEnum):
    NSW1 = "NSW1"  # includes the ACT
    QLD1 = "QLD1"
    VIC1 = "VIC1"
    SA1 = "SA1"
    TAS1 = "TAS1"


ALL_REGIONS: tuple[Region, ...] = tuple(Region)


class PeriodType(StrEnum):
    ACTUAL = "ACTUAL"  # dispatch (5-minute) prices already set
    FORECAST = "FORECAST"  # predispatch forecast


def normalise_regions(regions: Iterable[str]) -> tuple[Region, ...]:
    """Validate region ids (case-insensitive, e.g. ``"nsw1"``), dedupe, keep order.

    Raises ``UnknownRegion`` (a ``ValueError``) for anything that is not a NEM region.
    """
    if isinstance(regions, str):
        regions = [regions]
    result: list[Region] = []
    for raw in regions:
        try:
            region = Region(str(raw).strip().upper())
        except ValueError:
            raise UnknownRegion(
                f"unknown NEM region {raw!r}; expected one of {', '.join(ALL_REGIONS)}"
            ) from None
        if region not in result:
            result.append(region)
    if not result:
        raise UnknownRegion("at least one NEM region is required")
    return tuple(result)


@dataclass(frozen=True, slots=True)
class RegionPrice:
    """The latest 5-minute dispatch price of one region (ELEC_NEM_SUMMARY).

    ``price_status`` is AEMO's ``PRICE_STATUS`` (e.g. ``FIRM``; other values mean the price may
    still be revised). ``administered_price_cap`` is True when APCFLAG says an administered
    price is in force.
    """

    region: Region
    interval_start_utc: datetime
    interval_end_utc: datetime
    rrp_dollars_per_mwh: Decimal
    price_status: str | None = None
    total_demand_mw: Decimal | None = None
    administered_price_cap: bool | None = None
    market_suspended: bool | None = None

    @property
    def rrp_c_per_kwh_ex_gst(self) -> Decimal:
        return self.rrp_dollars_per_mwh / 10


@dataclass(frozen=True, slots=True)
class CurrentPrices:
    """Current prices for the requested regions; ``missing_regions`` had no usable row."""

    prices: Mapping[Region, RegionPrice]
    missing_regions: tuple[Region, ...]
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class PricePoint:
    """One actual (5-minute dispatch) or forecast (30-minute predispatch) regional price."""

    region: Region
    period_type: PeriodType
    interval_start_utc: datetime
    interval_end_utc: datetime
    duration_min: int
    rrp_dollars_per_mwh: Decimal
    total_demand_mw: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Actual and forecast prices (the 5MIN report), sorted by region then interval end."""

    points: tuple[PricePoint, ...]
    missing_regions: tuple[Region, ...]
    fetched_at: datetime
    regions: tuple[Region, ...] = field(default=ALL_REGIONS)

    def for_region(self, region: str, period_type: PeriodType | None = None) -> list[PricePoint]:
        (wanted,) = normalise_regions([region])
        return [
            p
            for p in self.points
            if p.region is wanted and (period_type is None or p.period_type is period_type)
        ]

    def forecasts(self, region: str) -> list[PricePoint]:
        return self.for_region(region, PeriodType.FORECAST)

    def actuals(self, region: str) -> list[PricePoint]:
        return self.for_region(region, PeriodType.ACTUAL)


# --- parsing -------------------------------------------------------------------------------------

JsonObject = Mapping[str, object]


def parse_nem_time(value: object, key: str = "SETTLEMENTDATE") -> datetime:
    """Parse an AEMO timestamp (``2021-09-24T11:40:00`` or ``2021/09/24 11:40:00``) as NEM time
    and return it as aware UTC. A string that carries its own offset keeps that offset."""
    if not isinstance(value, str):
        raise InvalidResponse(f"field {key!r} is not a string")
    text = value.strip().replace("/", "-")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidResponse(f"field {key!r} is not a NEM timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=NEM_TIMEZONE)
    return parsed.astimezone(UTC)


def parse_current_prices(
    payload: object, regions: tuple[Region, ...], *, fetched_at: datetime
) -> CurrentPrices:
    """Parse an ``ELEC_NEM_SUMMARY`` report. Rows for regions not asked for are ignored; a region
    with no row, or whose price is null, is reported in ``missing_regions``. When one region has
    several rows the latest interval wins."""
    obj = _require_object(payload, "ELEC_NEM_SUMMARY report")
    rows = _require_list(obj.get("ELEC_NEM_SUMMARY"), "ELEC_NEM_SUMMARY")
    fallback_rrp = _summary_prices(obj.get("ELEC_NEM_SUMMARY_PRICES"))
    found: dict[Region, RegionPrice] = {}
    for index, raw in enumerate(rows):
        row = _require_object(raw, f"ELEC_NEM_SUMMARY[{index}]")
        region = _row_region(row)
        if region is None or region not in regions:
            continue
        price_value = row.get("PRICE")
        if price_value is None:
            price_value = fallback_rrp.get(region)
        if price_value is None:
            continue
        end = parse_nem_time(row.get("SETTLEMENTDATE"))
        price = RegionPrice(
            region=region,
            interval_start_utc=end - timedelta(minutes=DISPATCH_INTERVAL_MIN),
            interval_end_utc=end,
            rrp_dollars_per_mwh=_decimal(price_value, "PRICE"),
            price_status=_optional_str(row.get("PRICE_STATUS"), "PRICE_STATUS"),
            total_demand_mw=_optional_decimal(row.get("TOTALDEMAND"), "TOTALDEMAND"),
            administered_price_cap=_optional_flag(row.get("APCFLAG"), "APCFLAG"),
            market_suspended=_optional_flag(row.get("MARKETSUSPENDEDFLAG"), "MARKETSUSPENDEDFLAG"),
        )
        kept = found.get(region)
        if kept is None or price.interval_end_utc > kept.interval_end_utc:
            found[region] = price
    return CurrentPrices(
        prices={region: found[region] for region in regions if region in found},
        missing_regions=tuple(region for region in regions if region not in found),
        fetched_at=fetched_at,
    )


def parse_price_series(
    payload: object, regions: tuple[Region, ...], *, fetched_at: datetime
) -> PriceSeries:
    """Parse a ``5MIN`` report (``{"5MIN": [{SETTLEMENTDATE, REGIONID|REGION, RRP, PERIODTYPE,
    TOTALDEMAND, ...}]}``).

    The interval length of each (region, period type) group is its smallest step between
    consecutive rows; a lone row uses 5 min (ACTUAL) or 30 min (FORECAST).
    """
    obj = _require_object(payload, "5MIN report")
    rows = _require_list(obj.get("5MIN"), "5MIN")
    parsed: dict[tuple[Region, PeriodType], dict[datetime, tuple[Decimal, Decimal | None]]] = {}
    for index, raw in enumerate(rows):
        row = _require_object(raw, f"5MIN[{index}]")
        region = _row_region(row)
        if region is None or region not in regions:
            continue
        period_raw = _optional_str(row.get("PERIODTYPE"), "PERIODTYPE") or PeriodType.ACTUAL
        try:
            period_type = PeriodType(period_raw.upper())
        except ValueError:
            raise InvalidResponse(
                f"5MIN[{index}]: unknown PERIODTYPE {period_raw[:20]!r}"
            ) from None
        rrp_value = row.get("RRP")
        if rrp_value is None:
            continue
        end = parse_nem_time(row.get("SETTLEMENTDATE"))
        parsed.setdefault((region, period_type), {})[end] = (
            _decimal(rrp_value, "RRP"),
            _optional_decimal(row.get("TOTALDEMAND"), "TOTALDEMAND"),
        )
    points: list[PricePoint] = []
    for (region, period_type), by_end in parsed.items():
        ends = sorted(by_end)
        duration_min = _group_duration_min(ends, period_type)
        for end in ends:
            rrp, demand = by_end[end]
            points.append(
                PricePoint(
                    region=region,
                    period_type=period_type,
                    interval_start_utc=end - timedelta(minutes=duration_min),
                    interval_end_utc=end,
                    duration_min=duration_min,
                    rrp_dollars_per_mwh=rrp,
                    total_demand_mw=demand,
                )
            )
    order = {region: position for position, region in enumerate(regions)}
    points.sort(key=lambda p: (order[p.region], p.interval_end_utc, p.period_type))
    present = {p.region for p in points}
    return PriceSeries(
        points=tuple(points),
        missing_regions=tuple(region for region in regions if region not in present),
        fetched_at=fetched_at,
        regions=regions,
    )


def _group_duration_min(ends: list[datetime], period_type: PeriodType) -> int:
    steps = [
        int((later - earlier).total_seconds() // 60) for earlier, later in itertools.pairwise(ends)
    ]
    steps = [step for step in steps if step > 0]
    if steps:
        return min(steps)
    return DISPATCH_INTERVAL_MIN if period_type is PeriodType.ACTUAL else PREDISPATCH_INTERVAL_MIN


def _summary_prices(value: object) -> dict[Region, object]:
    if value is None:
        return {}
    result: dict[Region, object] = {}
    for index, raw in enumerate(_require_list(value, "ELEC_NEM_SUMMARY_PRICES")):
        row = _require_object(raw, f"ELEC_NEM_SUMMARY_PRICES[{index}]")
        region = _row_region(row)
        if region is not None and row.get("RRP") is not None:
            result[region] = row["RRP"]
    return result


def _row_region(row: JsonObject) -> Region | None:
    """The row's region (``REGIONID``, or ``REGION`` as some captures name it); None when it
    is a region we don't know (ignored rather than failing the whole report)."""
    raw = row.get("REGIONID", row.get("REGION"))
    if not isinstance(raw, str):
        raise InvalidResponse("row has no REGIONID")
    try:
        return Region(raw.strip().upper())
    except ValueError:
        return None


def _require_list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise InvalidResponse(f"expected a JSON array for {what}, got {type(value).__name__}")
    return value


def _require_object(value: object, what: str) -> JsonObject:
    if not isinstance(value, dict):
        raise InvalidResponse(f"expected a JSON object for {what}, got {type(value).__name__}")
    return value


def _decimal(value: object, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise InvalidResponse(f"field {key!r} is not a number")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidResponse(f"field {key!r} is not a number") from None
    if not result.is_finite():
        raise InvalidResponse(f"field {key!r} is not a finite number")
    return result


def _optional_decimal(value: object, key: str) -> Decimal | None:
    return None if value is None else _decimal(value, key)


def _optional_str(value: object, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidResponse(f"field {key!r} is not a string")
    return value


def _optional_flag(value: object, key: str) -> bool | None:
    if value is None:
        return None
    return _decimal(value, key) != 0
