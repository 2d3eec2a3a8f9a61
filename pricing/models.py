"""Price history: Amber intervals per Amber site and AEMO regional dispatch prices.

Both are unique on their natural key, so fetching the same data again updates rows instead of
adding copies (services upsert with bulk_create(update_conflicts=True)).
"""

from __future__ import annotations

from django.db import models

from devices.models import NemRegion


class AmberPriceInterval(models.Model):
    """One Amber interval of one channel. All prices c/kWh including GST, as Amber sends them.

    Sign convention (Amber's): on the feed-in channel ``price_c_per_kwh`` is what the household
    PAYS to export, so a negative value means the household earns.
    """

    class Channel(models.TextChoices):
        GENERAL = "general", "General"
        FEED_IN = "feedIn", "Feed-in"
        CONTROLLED_LOAD = "controlledLoad", "Controlled load"

    class IntervalType(models.TextChoices):
        ACTUAL = "actual", "Actual"
        CURRENT = "current", "Current"
        FORECAST = "forecast", "Forecast"

    class SpikeStatus(models.TextChoices):
        NONE = "none", "None"
        POTENTIAL = "potential", "Potential"
        SPIKE = "spike", "Spike"

    amber_site_id = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    start_at = models.DateTimeField(help_text="Interval start (UTC; Amber's startTime - 1 s).")
    end_at = models.DateTimeField(help_text="Interval end (UTC); Amber labels intervals by END.")
    duration_minutes = models.PositiveSmallIntegerField()
    interval_type = models.CharField(max_length=16, choices=IntervalType.choices)
    price_c_per_kwh = models.DecimalField(max_digits=12, decimal_places=5)
    spot_c_per_kwh = models.DecimalField(max_digits=12, decimal_places=5)
    advanced_low_c_per_kwh = models.DecimalField(
        max_digits=12, decimal_places=5, null=True, blank=True
    )
    advanced_predicted_c_per_kwh = models.DecimalField(
        max_digits=12, decimal_places=5, null=True, blank=True
    )
    advanced_high_c_per_kwh = models.DecimalField(
        max_digits=12, decimal_places=5, null=True, blank=True
    )
    spike_status = models.CharField(
        max_length=16, choices=SpikeStatus.choices, default=SpikeStatus.NONE
    )
    descriptor = models.CharField(max_length=24, blank=True)
    is_estimate = models.BooleanField(default=False)
    fetched_at = models.DateTimeField()
    # Both forecasts as last seen at least 30 minutes before the interval ended; kept when the
    # interval settles. The "calibrated" forecast learns from them (tariffs.engine.calibration).
    captured_per_kwh_c_per_kwh = models.DecimalField(
        max_digits=12, decimal_places=5, null=True, blank=True
    )
    captured_predicted_c_per_kwh = models.DecimalField(
        max_digits=12, decimal_places=5, null=True, blank=True
    )

    class Meta:
        ordering = ["amber_site_id", "channel", "start_at"]
        constraints = [
            # 5- and 30-minute intervals starting at the same moment are different intervals.
            models.UniqueConstraint(
                fields=["amber_site_id", "channel", "start_at", "duration_minutes"],
                name="amber_interval_natural_key",
            ),
            models.CheckConstraint(
                name="amber_interval_end_after_start",
                condition=models.Q(end_at__gt=models.F("start_at")),
            ),
        ]
        indexes = [models.Index(fields=["amber_site_id", "end_at"], name="amber_interval_site_end")]

    def __str__(self) -> str:
        return f"{self.amber_site_id} {self.channel} {self.end_at:%Y-%m-%d %H:%M}Z"


class AemoRegionalPrice(models.Model):
    """AEMO regional reference price for one 5-minute dispatch interval (or a forecast of it).

    ``interval_end_at`` is UTC; AEMO publishes NEM time (UTC+10 all year) marking the interval END.
    """

    region = models.CharField(max_length=8, choices=NemRegion.choices)
    interval_end_at = models.DateTimeField()
    is_forecast = models.BooleanField(default=False)
    rrp_dollars_per_mwh = models.DecimalField(max_digits=10, decimal_places=2)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["region", "-interval_end_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "interval_end_at", "is_forecast"],
                name="aemo_price_natural_key",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.region} {self.interval_end_at:%Y-%m-%d %H:%M}Z ${self.rrp_dollars_per_mwh}/MWh"
        )
