"""Writes of price history. Upserts on the natural keys, so fetching the same data twice never
duplicates rows; a later fetch updates the type (forecast → current → actual) and prices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pricing.models import AemoRegionalPrice, AmberPriceInterval
from pricing.providers.aemo.models import PeriodType, PriceSeries, RegionPrice
from pricing.providers.amber.models import IntervalType, PriceInterval
from tariffs.engine.calibration import captured_for_calibration

_TYPE = {
    IntervalType.ACTUAL: AmberPriceInterval.IntervalType.ACTUAL,
    IntervalType.CURRENT: AmberPriceInterval.IntervalType.CURRENT,
    IntervalType.FORECAST: AmberPriceInterval.IntervalType.FORECAST,
}
_AMBER_UPDATE_FIELDS = [
    "end_at",
    "interval_type",
    "price_c_per_kwh",
    "spot_c_per_kwh",
    "advanced_low_c_per_kwh",
    "advanced_predicted_c_per_kwh",
    "advanced_high_c_per_kwh",
    "spike_status",
    "descriptor",
    "is_estimate",
    "fetched_at",
]
_AMBER_CAPTURED_FIELDS = ["captured_per_kwh_c_per_kwh", "captured_predicted_c_per_kwh"]


def amber_intervals_store(
    *,
    amber_site_id: str,
    intervals: Sequence[PriceInterval],
    fetched_at: dt.datetime,
    include_forecasts: bool = True,
) -> int:
    """Upsert the intervals; with ``include_forecasts`` False only actual/current ones.

    A forecast far enough ahead (``captured_for_calibration``) also writes its two forecasts to
    the ``captured_*`` columns. Every other write leaves those columns as they were, so an
    interval keeps the forecasts captured for it after it settles."""
    rows: list[AmberPriceInterval] = []
    captured_rows: list[AmberPriceInterval] = []
    fetched_epoch_s = int(fetched_at.timestamp())
    for interval in intervals:
        if not include_forecasts and interval.type is IntervalType.FORECAST:
            continue
        advanced = interval.advanced_price
        captured = (
            advanced is not None
            and interval.type is IntervalType.FORECAST
            and captured_for_calibration(int(interval.end_time.timestamp()), fetched_epoch_s)
        )
        (captured_rows if captured else rows).append(
            AmberPriceInterval(
                amber_site_id=amber_site_id,
                channel=str(interval.channel_type),
                start_at=interval.end_time - dt.timedelta(minutes=interval.duration_min),
                end_at=interval.end_time,
                duration_minutes=interval.duration_min,
                interval_type=_TYPE[interval.type],
                price_c_per_kwh=interval.price_c_per_kwh,
                spot_c_per_kwh=interval.spot_c_per_kwh,
                advanced_low_c_per_kwh=advanced.low_c_per_kwh if advanced else None,
                advanced_predicted_c_per_kwh=advanced.predicted_c_per_kwh if advanced else None,
                advanced_high_c_per_kwh=advanced.high_c_per_kwh if advanced else None,
                spike_status=str(interval.spike_status),
                descriptor=interval.descriptor,
                is_estimate=bool(interval.estimate),
                fetched_at=fetched_at,
                captured_per_kwh_c_per_kwh=interval.price_c_per_kwh if captured else None,
                captured_predicted_c_per_kwh=(
                    advanced.predicted_c_per_kwh if captured and advanced else None
                ),
            )
        )
    for batch, update_fields in (
        (rows, _AMBER_UPDATE_FIELDS),
        (captured_rows, _AMBER_UPDATE_FIELDS + _AMBER_CAPTURED_FIELDS),
    ):
        if batch:
            AmberPriceInterval.objects.bulk_create(
                batch,
                batch_size=500,
                update_conflicts=True,
                unique_fields=["amber_site_id", "channel", "start_at", "duration_minutes"],
                update_fields=update_fields,
            )
    return len(rows) + len(captured_rows)


def aemo_prices_store(
    *, prices: Sequence[RegionPrice], fetched_at: dt.datetime, is_forecast: bool = False
) -> int:
    rows = [
        AemoRegionalPrice(
            region=str(price.region),
            interval_end_at=price.interval_end_utc,
            is_forecast=is_forecast,
            rrp_dollars_per_mwh=price.rrp_dollars_per_mwh,
            fetched_at=fetched_at,
        )
        for price in prices
    ]
    AemoRegionalPrice.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["region", "interval_end_at", "is_forecast"],
        update_fields=["rrp_dollars_per_mwh", "fetched_at"],
    )
    return len(rows)


def aemo_series_store(*, series: PriceSeries, fetched_at: dt.datetime) -> int:
    """Upsert AEMO's recent 5-minute actuals and its 30-minute predispatch forecasts."""
    rows = [
        AemoRegionalPrice(
            region=str(point.region),
            interval_end_at=point.interval_end_utc,
            is_forecast=point.period_type is PeriodType.FORECAST,
            rrp_dollars_per_mwh=point.rrp_dollars_per_mwh,
            fetched_at=fetched_at,
        )
        for point in series.points
    ]
    AemoRegionalPrice.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["region", "interval_end_at", "is_forecast"],
        update_fields=["rrp_dollars_per_mwh", "fetched_at"],
    )
    return len(rows)
