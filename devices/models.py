"""Sites (a price source paired with a Tesla energy site), their automation state, what was sent
to Tesla, and the energy the site measured.

Units are in field names: *_w watts, *_kw kilowatts, *_c_per_kwh cents per kWh,
*_dollars_per_mwh dollars per MWh, *_dollars dollars.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from devices.validators import (
    NETWORK_LABEL,
    NETWORK_REGION,
    validate_half_hour,
    validate_time_zone,
)
from tariffs.engine.flow_power import tariff_code_canonical


def default_forecast_type() -> str:
    """The forecast a new site starts with: settings.DEFAULT_FORECAST_TYPE."""
    forecast_type: str = settings.DEFAULT_FORECAST_TYPE
    return forecast_type


class NemRegion(models.TextChoices):
    NSW1 = "NSW1", "New South Wales"
    QLD1 = "QLD1", "Queensland"
    VIC1 = "VIC1", "Victoria"
    SA1 = "SA1", "South Australia"
    TAS1 = "TAS1", "Tasmania"


# The NEM region of a site whose price source names none (Amber, fixed plans), from its time
# zone. Broken Hill keeps South Australian time but is in NSW1. Western Australia and the
# Northern Territory are outside the NEM.
NEM_REGION_OF_ZONE = {
    "Australia/Sydney": NemRegion.NSW1,
    "Australia/ACT": NemRegion.NSW1,
    "Australia/Canberra": NemRegion.NSW1,
    "Australia/NSW": NemRegion.NSW1,
    "Australia/Broken_Hill": NemRegion.NSW1,
    "Australia/Yancowinna": NemRegion.NSW1,
    "Australia/Brisbane": NemRegion.QLD1,
    "Australia/Lindeman": NemRegion.QLD1,
    "Australia/Queensland": NemRegion.QLD1,
    "Australia/Melbourne": NemRegion.VIC1,
    "Australia/Victoria": NemRegion.VIC1,
    "Australia/Adelaide": NemRegion.SA1,
    "Australia/South": NemRegion.SA1,
    "Australia/Hobart": NemRegion.TAS1,
    "Australia/Currie": NemRegion.TAS1,
    "Australia/Tasmania": NemRegion.TAS1,
}


def zones_by_region() -> dict[str, list[str]]:
    """The time zones of each NEM region (``NEM_REGION_OF_ZONE`` the other way round)."""
    zones: dict[str, list[str]] = {}
    for zone, region in NEM_REGION_OF_ZONE.items():
        zones.setdefault(region, []).append(zone)
    return zones


def in_nem_region(region: str) -> Q:
    """Sites in ``region``: by their AEMO region, else by their time zone (``Site.nem_region``)."""
    return Q(aemo_region=region) | Q(
        aemo_region="", time_zone__in=zones_by_region().get(region, [])
    )


class Site(models.Model):
    class PriceSource(models.TextChoices):
        AMBER = "amber", "Amber Electric"
        AEMO = "aemo", "Flow Power / AEMO wholesale"
        CUSTOM = "custom", "Fixed time-of-use plan"

    class TeslaAccess(models.TextChoices):
        TESLEMETRY = "teslemetry", "Teslemetry"
        FLEET = "fleet", "Tesla Fleet API"

    class ForecastType(models.TextChoices):
        PREDICTED = "predicted", "Amber predicted (advanced price)"
        LOW = "low", "Amber low (advanced price)"
        HIGH = "high", "Amber high (advanced price)"
        PER_KWH = "per_kwh", "Raw per-kWh forecast"
        CALIBRATED = "calibrated", "Amber predicted, calibrated by this site's settled prices"

    household = models.ForeignKey(
        "households.Household", on_delete=models.CASCADE, related_name="sites"
    )
    name = models.CharField(max_length=120)
    time_zone = models.CharField(
        max_length=64, default="Australia/Sydney", validators=[validate_time_zone]
    )

    # Price source: exactly one of the three, checked by the constraint below.
    price_source = models.CharField(
        max_length=16, choices=PriceSource.choices, default=PriceSource.AMBER
    )
    amber_site_id = models.CharField(max_length=64, blank=True, db_index=True)
    aemo_region = models.CharField(max_length=8, choices=NemRegion.choices, blank=True)
    aemo_network = models.CharField(max_length=32, blank=True)
    aemo_tariff_code = models.CharField(max_length=32, blank=True)
    custom_schedule = models.ForeignKey(
        "tariffs.CustomTouSchedule",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sites",
    )

    # Tesla side.
    tesla_energy_site_id = models.CharField(max_length=32, blank=True)
    tesla_access = models.CharField(
        max_length=16, choices=TeslaAccess.choices, default=TeslaAccess.TESLEMETRY
    )
    tesla_api_base_url = models.CharField(
        max_length=200,
        blank=True,
        help_text="Fleet API base Tesla named for this account (421 region discovery).",
    )
    teslemetry_region = models.CharField(
        max_length=8,
        blank=True,
        help_text="Teslemetry region code (e.g. na), learnt once from its metadata.",
    )
    needs_reauthorisation = models.BooleanField(
        default=False, help_text="Tesla refused our tokens; automations pause until reconnected."
    )

    # Automation settings (defaults from SPEC §4-5: only TOU sync is on by default).
    tou_sync_enabled = models.BooleanField(default=True)
    forecast_type = models.CharField(
        max_length=16, choices=ForecastType.choices, default=default_forecast_type
    )
    spike_detection_enabled = models.BooleanField(default=False)
    spike_threshold_dollars_per_mwh = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("300"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("20000"))],
    )
    curtailment_enabled = models.BooleanField(default=False)
    spike_protection_enabled = models.BooleanField(default=False)
    export_boost_enabled = models.BooleanField(default=False)
    export_boost_offset_c_per_kwh = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    export_boost_min_c_per_kwh = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("200"))],
    )
    export_boost_threshold_c_per_kwh = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("200"))],
        help_text="Boost only when the export price is at or above this (0 = always).",
    )
    export_boost_window_start = models.TimeField(
        default=dt.time(17, 0), validators=[validate_half_hour]
    )
    export_boost_window_end = models.TimeField(
        default=dt.time(21, 0), validators=[validate_half_hour]
    )
    force_mode_toggle_enabled = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="site_price_source_complete",
                condition=(
                    Q(price_source="amber", amber_site_id__gt="")
                    | Q(price_source="aemo", aemo_region__gt="")
                    | Q(price_source="custom", custom_schedule__isnull=False)
                ),
                violation_error_message="Say where prices come from: the Amber site, the NEM "
                "region, or the plan.",
            ),
            models.UniqueConstraint(
                fields=["tesla_energy_site_id"],
                condition=~Q(tesla_energy_site_id=""),
                name="site_one_site_per_powerwall",
                violation_error_message="This Powerwall is already connected to another site.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Rules across fields, for the form and the API alike: a Flow Power site names a
        network of its own region and a tariff code that network lists (kept as the network
        writes it: NTC6900 from an Energex bill is 6900)."""
        super().clean()
        if self.price_source != Site.PriceSource.AEMO:
            return
        if not self.aemo_network and not self.aemo_tariff_code:
            return  # no network tariff yet: its syncs are refused, saying so
        region = NETWORK_REGION.get(self.aemo_network)
        if region is None:
            raise ValidationError(
                {"aemo_network": "Choose your network distributor from the list."}
            )
        if self.aemo_region and region != self.aemo_region:
            raise ValidationError(
                {
                    "aemo_network": f"{NETWORK_LABEL[self.aemo_network]} is in {region}, "
                    f"not {self.aemo_region}."
                }
            )
        if not self.aemo_tariff_code.strip():
            raise ValidationError(
                {"aemo_tariff_code": "Give the network tariff code on your bill."}
            )
        code = tariff_code_canonical(self.aemo_network, self.aemo_tariff_code, timezone.now())
        if code is None:
            raise ValidationError(
                {
                    "aemo_tariff_code": f"{self.aemo_tariff_code!r} is not a tariff code "
                    f"{NETWORK_LABEL[self.aemo_network]} lists. Check your bill."
                }
            )
        self.aemo_tariff_code = code

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def nem_region(self) -> str:
        """The site's NEM region ("" outside the NEM): its AEMO region, else by time zone."""
        return self.aemo_region or NEM_REGION_OF_ZONE.get(self.time_zone, "")


class DeviceCommand(models.Model):
    """One command sent to Tesla: what, why, and what came back."""

    class Kind(models.TextChoices):
        TARIFF = "tariff", "Time-of-use tariff"
        OPERATION_MODE = "operation_mode", "Operation mode"
        BACKUP_RESERVE = "backup_reserve", "Backup reserve"
        EXPORT_RULE = "export_rule", "Export rule / grid charging"

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="commands")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    reason = models.CharField(max_length=200)
    intent = models.CharField(
        max_length=24, blank=True, help_text="The intent whose desired state caused it."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENT)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["site", "-created_at"], name="command_site_recent")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.site} ({self.status})"


class EnergySample(models.Model):
    """Power flows read from Tesla live_status. Sign conventions follow Tesla: battery_power_w
    positive = discharging, grid_power_w positive = importing."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="energy_samples")
    sampled_at = models.DateTimeField()
    solar_power_w = models.IntegerField()
    battery_power_w = models.IntegerField()
    grid_power_w = models.IntegerField()
    load_power_w = models.IntegerField()
    battery_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )

    class Meta:
        ordering = ["-sampled_at"]
        constraints = [
            models.UniqueConstraint(fields=["site", "sampled_at"], name="energy_sample_unique")
        ]

    def __str__(self) -> str:
        return f"{self.site} at {self.sampled_at:%Y-%m-%d %H:%M}"


class DemandPeak(models.Model):
    """Highest demand inside the plan's demand window for one billing month."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="demand_peaks")
    billing_month = models.DateField(help_text="First day of the billing month.")
    peak_kw = models.DecimalField(max_digits=8, decimal_places=3)
    peak_at = models.DateTimeField()
    estimated_charge_dollars = models.DecimalField(max_digits=10, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-billing_month"]
        constraints = [
            models.UniqueConstraint(fields=["site", "billing_month"], name="demand_peak_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.billing_month:%Y-%m}: {self.peak_kw} kW"


class EnergyHour(models.Model):
    """Energy of one site-local hour, integrated from EnergySample rows (devices/energy.py).

    History charts read these instead of raw samples, which are pruned after
    ENERGY_RAW_RETENTION_DAYS. ``hour_start`` is the UTC instant of the local hour's start (so an
    Adelaide hour starts at :30 UTC). Every energy is >= 0: grid and battery are split by
    direction. ``covered_seconds`` is how much of the hour the samples covered (gaps are not
    interpolated), so a chart can tell "no data" from "no energy".
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="energy_hours")
    hour_start = models.DateTimeField()
    solar_kwh = models.DecimalField(max_digits=10, decimal_places=3)
    home_kwh = models.DecimalField(max_digits=10, decimal_places=3)
    grid_import_kwh = models.DecimalField(max_digits=10, decimal_places=3)
    grid_export_kwh = models.DecimalField(max_digits=10, decimal_places=3)
    battery_charge_kwh = models.DecimalField(max_digits=10, decimal_places=3)
    battery_discharge_kwh = models.DecimalField(max_digits=10, decimal_places=3)
    covered_seconds = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-hour_start"]
        constraints = [
            models.UniqueConstraint(fields=["site", "hour_start"], name="energy_hour_unique")
        ]

    def __str__(self) -> str:
        return f"{self.site} hour of {self.hour_start:%Y-%m-%d %H:%M} UTC"
