"""Tariffs sent to Tesla (pushes), saved time-of-use profiles and custom TOU schedules.

Tariff documents are Tesla's ``tariff_content_v2`` JSON; the pure engine in tariffs/engine builds,
validates and fingerprints them.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class CustomTouSchedule(models.Model):
    """A fixed time-of-use plan: seasons → periods → weekday/weekend windows, buy/sell rates.

    ``definition`` is the schedule document understood by tariffs.engine.custom_tou (seasons,
    periods, windows, rates); it is validated there before it is saved.
    """

    household = models.ForeignKey(
        "households.Household", on_delete=models.CASCADE, related_name="custom_schedules"
    )
    name = models.CharField(max_length=120)
    retailer = models.CharField(max_length=120, blank=True)
    definition = models.JSONField()
    daily_supply_charge_dollars = models.DecimalField(
        max_digits=8, decimal_places=4, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    demand_charge_dollars_per_kw = models.DecimalField(
        max_digits=8, decimal_places=4, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["household", "name"], name="custom_schedule_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class TouProfile(models.Model):
    """A saved tariff: one the household keeps, the tariff saved before a spike, or the default."""

    class Kind(models.TextChoices):
        MANUAL = "manual", "Saved by the household"
        PRE_SPIKE = "pre_spike", "Backup taken before a spike"
        PRE_DISCHARGE = "pre_discharge", "Backup taken before a force discharge"
        DEFAULT = "default", "Default"

    household = models.ForeignKey(
        "households.Household", on_delete=models.CASCADE, related_name="tou_profiles"
    )
    site = models.ForeignKey(
        "devices.Site", on_delete=models.CASCADE, null=True, blank=True, related_name="tou_profiles"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MANUAL)
    tariff_content = models.JSONField(help_text="Tesla tariff_content_v2")
    fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(kind="default"),
                name="tou_profile_one_default_per_site",
                violation_error_message="The site has a default profile already.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class TariffPush(models.Model):
    """One attempt to put a tariff on a Tesla site, and whether a read-back confirmed it."""

    class Reason(models.TextChoices):
        FORECAST = "forecast", "Interval start (forecast prices)"
        SETTLED = "settled", "Settled prices arrived"
        MANUAL = "manual", "Sync requested"
        SPIKE = "spike", "AEMO spike"
        SPIKE_RESTORE = "spike_restore", "Spike over: restore"
        FORCE_DISCHARGE = "force_discharge", "Force discharge"
        RESTORE = "restore", "Restore after force discharge"
        PROFILE = "profile", "Saved profile restored"
        CUSTOM = "custom", "Custom schedule"
        RESUME = "resume", "Live prices take the tariff"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent, not yet confirmed"
        CONFIRMED = "confirmed", "Confirmed by read-back"
        MISMATCH = "mismatch", "Read-back differs"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (no change that matters)"
        REFUSED = "refused", "Refused (stale or missing prices)"

    site = models.ForeignKey("devices.Site", on_delete=models.CASCADE, related_name="pushes")
    tariff_content = models.JSONField(null=True, blank=True, help_text="Tesla tariff_content_v2")
    fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    half_hour_rates = models.JSONField(
        null=True,
        blank=True,
        help_text="The 48 buy and 48 sell $/kWh (as text) when the tariff was built from them: "
        "lets the next sync compare without parsing tariff_content.",
    )
    reason = models.CharField(max_length=24, choices=Reason.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    detail = models.TextField(blank=True, help_text="Why skipped/refused, or the error.")
    tesla_response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["site", "-created_at"], name="push_site_recent")]

    def __str__(self) -> str:
        return f"{self.site} {self.reason} {self.status}"
