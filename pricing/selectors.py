"""Reads of price history."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from pricing.models import AemoRegionalPrice, AmberPriceInterval
from tariffs.engine.calibration import (
    CapturedForecast,
    ForecastCalibration,
    SettledPrice,
    forecast_calibration,
    forecast_samples,
    sample_window,
)
from tariffs.engine.flow_power import AemoPrice

# Stored rows carry no duration: actuals are 5-minute dispatch prices, forecasts 30-minute
# predispatch prices (pricing.providers.aemo, external_apis.md §3).
_ACTUAL_MIN, _FORECAST_MIN = 5, 30


def aemo_prices_for_engine(*, region: str, now: dt.datetime) -> list[AemoPrice]:
    """The region's prices the Flow Power engine needs at ``now``: today's actuals and the
    forecasts ahead (the rolling 24 h window looks at most a day ahead)."""
    rows = AemoRegionalPrice.objects.filter(
        region=region,
        interval_end_at__gte=now - dt.timedelta(hours=26),
        interval_end_at__lte=now + dt.timedelta(hours=26),
    ).values_list("interval_end_at", "is_forecast", "rrp_dollars_per_mwh")
    return [
        AemoPrice(
            region=region,
            end_epoch_s=int(end.timestamp()),
            duration_min=_FORECAST_MIN if is_forecast else _ACTUAL_MIN,
            rrp_dollars_per_mwh=float(rrp),
            is_forecast=is_forecast,
        )
        for end, is_forecast, rrp in rows
    ]


_SETTLED = Q(interval_type=AmberPriceInterval.IntervalType.ACTUAL) | Q(
    interval_type=AmberPriceInterval.IntervalType.CURRENT, is_estimate=False
)


def forecast_calibration_for(*, amber_site_id: str, now: dt.datetime) -> ForecastCalibration:
    """The calibrated forecast's weights for an Amber site at ``now``, from the settled 5-minute
    prices of ``sample_window(now)`` and the forecasts captured for them (one query)."""
    after, until = (dt.datetime.fromtimestamp(s, tz=dt.UTC) for s in sample_window(now))
    rows = AmberPriceInterval.objects.filter(
        Q(duration_minutes=5, end_at__gt=after, end_at__lte=until) & _SETTLED
        | Q(captured_predicted_c_per_kwh__isnull=False, start_at__lt=until, end_at__gt=after),
        amber_site_id=amber_site_id,
        channel__in=(AmberPriceInterval.Channel.GENERAL, AmberPriceInterval.Channel.FEED_IN),
    ).values_list(
        "channel",
        "end_at",
        "duration_minutes",
        "interval_type",
        "is_estimate",
        "price_c_per_kwh",
        "captured_per_kwh_c_per_kwh",
        "captured_predicted_c_per_kwh",
    )
    settled: list[SettledPrice] = []
    captured: list[CapturedForecast] = []
    for channel, end, minutes, kind, estimate, price, per_kwh, predicted in rows:
        end_s = int(end.timestamp())
        start_s = end_s - minutes * 60
        if (
            minutes == 5
            and end <= until
            and (
                kind == AmberPriceInterval.IntervalType.ACTUAL
                or (kind == AmberPriceInterval.IntervalType.CURRENT and not estimate)
            )
        ):
            settled.append(SettledPrice(channel, start_s, end_s, float(price)))
        if predicted is not None and per_kwh is not None:
            captured.append(
                CapturedForecast(channel, start_s, end_s, float(per_kwh), float(predicted))
            )
    return forecast_calibration(forecast_samples(settled, captured), now=now)
