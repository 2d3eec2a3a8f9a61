"""Prices of a site as the API shows them.

Units are in the names. Amber sites: ``buy_c_per_kwh`` and ``sell_c_per_kwh`` (c/kWh incl. GST;
sell is what the household EARNS per kWh exported, Amber's feed-in price with its sign flipped, so
negative means exporting costs). AEMO sites: ``rrp_dollars_per_mwh`` (wholesale, ex-GST).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from devices.selectors import PriceHistory
from powersync_site.api_support import TimeRangeQuerySerializer


class PriceNowSerializer(serializers.Serializer):
    price_source = serializers.CharField(source="source")
    interval_end_at = serializers.DateTimeField()
    is_stale = serializers.BooleanField(help_text="The newest stored price is over 15 min old.")
    spike_status = serializers.CharField()
    is_spike = serializers.BooleanField()
    buy_c_per_kwh = serializers.DecimalField(max_digits=12, decimal_places=5, allow_null=True)
    sell_c_per_kwh = serializers.DecimalField(
        source="export_earn_c_per_kwh", max_digits=12, decimal_places=5, allow_null=True
    )
    rrp_dollars_per_mwh = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    descriptor = serializers.CharField()


class PriceRowSerializer(serializers.Serializer):
    interval_end_at = serializers.DateTimeField()
    is_forecast = serializers.BooleanField()
    buy_c_per_kwh = serializers.DecimalField(max_digits=12, decimal_places=5, allow_null=True)
    sell_c_per_kwh = serializers.DecimalField(max_digits=12, decimal_places=5, allow_null=True)
    rrp_dollars_per_mwh = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)


class PriceHistoryQuerySerializer(TimeRangeQuerySerializer):
    """Intervals ending after ``start`` and at or before ``end``. Default: the last 24 h and the
    next 24 h of forecasts; at most 7 days."""


def price_rows(history: PriceHistory) -> list[dict[str, Any]]:
    """One row per interval (end time, actual/forecast), oldest first, buy and sell side by side."""
    rows: dict[tuple[Any, bool], dict[str, Any]] = {}

    def row(point: Any) -> dict[str, Any]:
        return rows.setdefault(
            (point.end_at, point.is_forecast),
            {
                "interval_end_at": point.end_at,
                "is_forecast": point.is_forecast,
                "buy_c_per_kwh": None,
                "sell_c_per_kwh": None,
                "rrp_dollars_per_mwh": None,
            },
        )

    buy_key = "rrp_dollars_per_mwh" if history.unit == "$/MWh" else "buy_c_per_kwh"
    for point in history.buy:
        row(point)[buy_key] = point.value
    for point in history.export_earn:
        row(point)["sell_c_per_kwh"] = point.value
    return sorted(rows.values(), key=lambda r: (r["interval_end_at"], r["is_forecast"]))
