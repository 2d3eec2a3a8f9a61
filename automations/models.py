"""What the automations want of each Powerwall (intents), what the reconcile knows the Powerwall
holds (the site's automation state), and the operator's write pauses.

The rule that ties them together lives in automations/reconcile.py: every write to Tesla comes
from one reconcile of a site's active intents against what the site holds.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from devices.models import NemRegion


class IntentKind(models.TextChoices):
    """Who wants something of a Powerwall, highest priority first (automations/intents.py)."""

    OPERATOR_HOLD = "operator_hold", "Operator hold"
    FORCE_DISCHARGE = "force_discharge", "Force discharge"
    SPIKE = "spike", "Spike response"
    CURTAILMENT = "curtailment", "Solar curtailment"
    HOUSEHOLD_HOLD = "household_hold", "Your held tariff"
    FORCE_TOGGLE = "force_toggle", "Force mode toggle"
    ROUTINE = "routine", "Live price sync"
    # Not an intent: the household's own tariff, mode and export rule, which come back when no
    # intent wants a setting any more. Commands and events that restore them name this.
    HOUSEHOLD = "household", "Your own settings"


class SiteIntent(models.Model):
    """One automation's (or the household's) standing wish for one site: who, what, since,
    until, why. One row per site and kind, switched on and off in place: the event log keeps
    the history, so this table never grows past a handful of rows per site.

    ``data`` is kind-specific (automations/intents.py documents each shape). Operator holds are
    not stored here: they are ``WritePause`` rows, which can cover a region or the fleet.
    """

    site = models.ForeignKey("devices.Site", on_delete=models.CASCADE, related_name="intents")
    kind = models.CharField(max_length=24, choices=IntentKind.choices)
    active = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True)
    until = models.DateTimeField(
        null=True, blank=True, help_text="When it ends by itself (empty: until it is cleared)."
    )
    why = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "kind"], name="site_intent_one_per_kind"),
            models.CheckConstraint(
                name="site_intent_not_operator_hold", condition=~Q(kind="operator_hold")
            ),
        ]
        indexes = [
            models.Index(
                fields=["until"], condition=Q(active=True), name="site_intent_active_until"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} of site {self.site_id} ({'on' if self.active else 'off'})"


class WritePause(models.Model):
    """The operator's kill switch: no Tesla writes for the sites it covers while it is active.

    Paused sites keep computing (and logging) what they would do; resuming reconciles them.
    """

    class Scope(models.TextChoices):
        FLEET = "fleet", "Every site"
        REGION = "region", "One NEM region"
        SITE = "site", "One site"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    region = models.CharField(max_length=8, choices=NemRegion.choices, blank=True)
    site = models.ForeignKey(
        "devices.Site",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="write_pauses",
    )
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="write_pause_scope_complete",
                condition=(
                    Q(scope="fleet", region="", site__isnull=True)
                    | Q(scope="region", region__gt="", site__isnull=True)
                    | Q(scope="site", region="", site__isnull=False)
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["scope"], condition=Q(ended_at=None), name="write_pause_active")
        ]

    def __str__(self) -> str:
        return f"pause of {self.covers} ({'ended' if self.ended_at else 'active'})"

    @property
    def covers(self) -> str:
        """In words: what the pause covers."""
        if self.scope == self.Scope.FLEET:
            return "every site"
        if self.scope == self.Scope.REGION:
            return f"the {self.region} region"
        return f"site {self.site_id}"


class AutomationState(models.Model):
    """Per site: what the reconcile knows the Powerwall holds and who set it, the household's own
    settings to give back, and the small state machines' counters (spike, curtailment, toggle).

    Held values are "" when unknown; ``held_unsure`` means a write may or may not have reached
    the Powerwall (a timeout, a crash), so the next reconcile reads it back before deciding.
    Owners are intent kinds ("" = the household's own value); an owner and, when an intent takes
    a setting from the household, the household's value, are written BEFORE the command is sent,
    so a worker killed mid-write never mistakes our own value for the household's.
    """

    site = models.OneToOneField(
        "devices.Site", on_delete=models.CASCADE, related_name="automation_state"
    )

    # What the Powerwall holds, as far as the reconcile knows.
    held_tariff_fingerprint = models.CharField(max_length=64, blank=True)
    held_operation_mode = models.CharField(max_length=32, blank=True)
    held_export_rule = models.CharField(max_length=32, blank=True)
    held_unsure = models.BooleanField(default=False)
    tariff_owner = models.CharField(max_length=24, blank=True)
    operation_mode_owner = models.CharField(max_length=24, blank=True)
    export_rule_owner = models.CharField(max_length=24, blank=True)
    # The household's own settings, given back when no intent wants them any more.
    household_operation_mode = models.CharField(max_length=32, blank=True)
    household_export_rule = models.CharField(max_length=32, blank=True)
    tariff_backup = models.ForeignKey(
        "tariffs.TouProfile",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The tariff the Powerwall held before a spike or force discharge took it over.",
    )
    intent_kinds = models.CharField(
        max_length=200,
        blank=True,
        help_text="The site's active intent kinds, comma-separated (kept by automations.intents "
        "with the rows, under this row's lock): a reconcile of a site with live price sync "
        "alone reads no intent rows.",
    )
    # The last reconcile.
    in_step = models.BooleanField(
        default=True, help_text="The last reconcile left the Powerwall as the intents want it."
    )
    last_reconcile_at = models.DateTimeField(null=True, blank=True)
    last_reconcile_outcome = models.CharField(max_length=32, blank=True)
    last_reconcile_detail = models.CharField(max_length=300, blank=True)
    paused_plan = models.CharField(
        max_length=64, blank=True, help_text="Key of what a paused site would do, logged once."
    )

    # Live price sync (automations/routine.py): the last routine outcome.
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_outcome = models.CharField(max_length=32, blank=True)
    last_sync_detail = models.CharField(max_length=300, blank=True)
    prices_unavailable_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The price source has not answered a sync since then (the Powerwall keeps "
        "the last good tariff); cleared by the next sync that gets prices.",
    )
    # Spike response (automations/spike.py).
    spike_last_interval_end = models.DateTimeField(null=True, blank=True)
    spike_calm_intervals = models.PositiveSmallIntegerField(default=0)
    # Solar curtailment (automations/curtailment.py).
    curtailment_calm_intervals = models.PositiveSmallIntegerField(default=0)
    curtailment_last_interval_end = models.DateTimeField(
        null=True, blank=True, help_text="End of the last 5-minute interval counted as calm."
    )
    # Force mode toggle (automations/force_toggle.py).
    force_toggle_interval_start = models.DateTimeField(
        null=True, blank=True, help_text="Start of the 5-minute interval last toggled for."
    )
    # Calibrated forecast (tariffs.engine.calibration): the weights learned for one 5-minute
    # interval, reused by that interval's settled syncs (they would learn the same).
    calibration_until = models.DateTimeField(
        null=True, blank=True, help_text="End of the sample window the weights below are for."
    )
    calibration_general_weight = models.FloatField(null=True, blank=True)
    calibration_feed_in_weight = models.FloatField(null=True, blank=True)
    calibration_samples = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "devices_automationstate"  # moved here from devices with its table

    def __str__(self) -> str:
        return f"automation state of {self.site}"
