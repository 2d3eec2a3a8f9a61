"""Households, who belongs to them, and what the service did for them (the event log)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Household(models.Model):
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "household"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.household} ({self.role})"


class Event(models.Model):
    """One decision or command of an automation, with why and what came of it."""

    class Automation(models.TextChoices):
        TOU_SYNC = "tou_sync", "TOU sync"
        SPIKE = "spike", "AEMO spike"
        CURTAILMENT = "curtailment", "Solar curtailment"
        FORCE_TOGGLE = "force_toggle", "Force mode toggle"
        FORCE_DISCHARGE = "force_discharge", "Force discharge"
        ENERGY = "energy", "Energy monitoring"
        DEMAND = "demand", "Demand tracking"
        TOKEN_REFRESH = "token_refresh", "Token refresh"
        HOUSEHOLD = "household", "Household"
        OPERATOR = "operator", "Operator"
        SYSTEM = "system", "System"

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        SKIPPED = "skipped", "Skipped"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="events")
    site = models.ForeignKey(
        "devices.Site", on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    automation = models.CharField(max_length=24, choices=Automation.choices)
    decision = models.CharField(max_length=200, help_text="What was decided or done.")
    reason = models.TextField(blank=True, help_text="Why, in words a household understands.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OK)
    intent = models.CharField(
        max_length=24, blank=True, help_text="The intent the decision was made for, if any."
    )
    data = models.JSONField(default=dict, blank=True, help_text="Figures behind the decision.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["household", "-created_at"], name="event_household_recent")]

    def __str__(self) -> str:
        return f"{self.automation}: {self.decision}"
