"""Reads of the automations: who is in control of a site's Powerwall and why (the dashboard and
the API show it), and which sites the minute sweep must reconcile."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from automations.desired import Setting, winners
from automations.intents import ROUTINE_WHY, Intent, active_intents
from automations.models import AutomationState, IntentKind, SiteIntent, WritePause
from automations.pauses import covering_pause
from devices.models import Site

FORECAST_WORDS: dict[str, str] = {
    Site.ForecastType.PREDICTED: "Amber's predicted forecast",
    Site.ForecastType.LOW: "Amber's low forecast",
    Site.ForecastType.HIGH: "Amber's high forecast",
    Site.ForecastType.PER_KWH: "the raw per-kWh forecast",
    Site.ForecastType.CALIBRATED: "calibrated forecast",
}
SETTING_WORDS = {
    Setting.TARIFF: "the tariff",
    Setting.OPERATION_MODE: "the operation mode",
    Setting.EXPORT_RULE: "the export rule",
}
# A site not left in step is reconciled again by the sweep after this long (the reconcile that
# failed has its own retries first).
SWEEP_AFTER = dt.timedelta(seconds=60)


def sites_to_sweep(*, now: dt.datetime) -> list[int]:
    """Sites with an intent past its time, or not in step a while after their last reconcile
    (not those held by a pause or waiting for re-authorisation: nothing can be sent there)."""
    expired = SiteIntent.objects.filter(active=True, until__lte=now).values_list(
        "site_id", flat=True
    )
    behind = AutomationState.objects.filter(
        in_step=False,
        last_reconcile_at__lte=now - SWEEP_AFTER,
        site__needs_reauthorisation=False,
    ).exclude(last_reconcile_outcome="paused")
    return sorted(set(expired) | set(behind.values_list("site_id", flat=True)))


@dataclass(frozen=True)
class ControlLine:
    """One intent as a household reads it."""

    kind: str
    label: str
    summary: str  # what it does, and until when
    why: str
    since: dt.datetime | None
    until: dt.datetime | None
    settings: tuple[str, ...]  # what it decides now ("tariff", "operation_mode", …)

    @property
    def decides(self) -> str:
        """The settings it decides, in words ("the tariff and the operation mode")."""
        words = [SETTING_WORDS[Setting(setting)] for setting in self.settings]
        if len(words) < 2:
            return "".join(words)
        return f"{', '.join(words[:-1])} and {words[-1]}"


@dataclass(frozen=True)
class SiteControl:
    """Who decides each Powerwall setting now, what waits behind, and the last reconcile."""

    in_control: list[ControlLine]
    waiting: list[ControlLine]
    pause: WritePause | None
    household_hold: bool
    in_step: bool
    last_reconcile_at: dt.datetime | None
    last_reconcile_outcome: str
    last_reconcile_detail: str
    held: dict[str, str] = field(default_factory=dict)
    # The price source has not answered since then (the last good tariff is kept).
    prices_unavailable_since: dt.datetime | None = None

    @property
    def headline(self) -> str:
        if self.pause is not None:
            return f"Paused by the operator: {self.pause.reason}"
        if self.in_control:
            return self.in_control[0].summary
        return "Your own settings: no automation is changing your Powerwall"


def _money(value: object) -> str:
    return f"${value}"


def _one_decimal(value: object) -> str:
    """A stored decimal string shown to one decimal place ("?" when missing or garbled)."""
    try:
        return f"{Decimal(str(value)):.1f}"
    except (InvalidOperation, ValueError):
        return "?"


def _summary(site: Site, intent: Intent) -> str:
    data = intent.data
    local_until = f"{intent.until.astimezone(site.zone):%H:%M}" if intent.until else ""
    if intent.kind == IntentKind.SPIKE:
        below = data.get("calm_below_dollars_per_mwh", "")
        return f"Spike response until prices fall below {_money(below)}/MWh"
    if intent.kind == IntentKind.FORCE_DISCHARGE:
        return f"Force discharge until {local_until}"
    if intent.kind == IntentKind.CURTAILMENT:
        earns = _one_decimal(data.get("earnings_c_per_kwh"))
        return f"Solar curtailment while exporting earns nothing (it earns {earns} c/kWh)"
    if intent.kind == IntentKind.HOUSEHOLD_HOLD:
        what = "plan" if data.get("source") == "plan" else "profile"
        held = f"held until {local_until}" if intent.until else "held until you resume"
        return f"Your {what} “{data.get('name', '')}”, {held}"
    if intent.kind == IntentKind.FORCE_TOGGLE:
        return "Force mode toggle: a few seconds of self-consumption after a settled push"
    source = Site.PriceSource(site.price_source).label
    if site.price_source == Site.PriceSource.AMBER:
        forecast = FORECAST_WORDS.get(site.forecast_type, site.forecast_type)
        return f"Live price sync from {source}, {forecast}"
    if site.price_source == Site.PriceSource.CUSTOM and site.custom_schedule_id:
        return "Your fixed time-of-use plan, kept on the Powerwall"
    return f"Live price sync from {source}"


def site_control(*, site: Site, now: dt.datetime) -> SiteControl:
    """The control picture of one site (the caller reached it through the household scoping)."""
    intents = [i for i in active_intents(site.pk) if not i.expired(now)]
    if site.tou_sync_enabled and not any(i.kind == IntentKind.ROUTINE for i in intents):
        # The next reconcile records it; the picture is the same already.
        intents.append(Intent(IntentKind.ROUTINE, None, None, ROUTINE_WHY))
    decided = winners(intents, now=now)
    lines_in: list[ControlLine] = []
    lines_waiting: list[ControlLine] = []
    for intent in sorted(intents, key=lambda i: i.rank):
        settings = tuple(s.value for s in Setting if decided.of(s) is intent)
        line = ControlLine(
            kind=intent.kind,
            label=intent.kind.label,
            summary=_summary(site, intent),
            why=intent.why,
            since=intent.since,
            until=intent.until,
            settings=settings,
        )
        (lines_in if settings else lines_waiting).append(line)
    state = AutomationState.objects.filter(site=site).first()
    held = {}
    if state is not None:
        held = {
            "operation_mode": state.held_operation_mode,
            "export_rule": state.held_export_rule,
        }
    return SiteControl(
        in_control=lines_in,
        waiting=lines_waiting,
        pause=covering_pause(site),
        household_hold=any(i.kind == IntentKind.HOUSEHOLD_HOLD for i in intents),
        in_step=state.in_step if state else True,
        last_reconcile_at=state.last_reconcile_at if state else None,
        last_reconcile_outcome=state.last_reconcile_outcome if state else "",
        last_reconcile_detail=state.last_reconcile_detail if state else "",
        held=held,
        prices_unavailable_since=state.prices_unavailable_since if state else None,
    )
