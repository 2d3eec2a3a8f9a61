"""Reads of price history."""

from __future__ import annotations

import datetime as dt

from pricing.models import AemoRegionalPrice
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
