"""Solar curtailment: stop exporting while exporting would cost the household money.

Sign convention: Amber's feed-in ``perKwh`` is negative when the household earns, so the export
earnings are ``-feed_in_c_per_kwh`` c/kWh. Earnings ≤ 0 means an exported kWh earns nothing or
costs money.

normal → curtailed, AT ONCE, on any reading of the interval in progress with earnings ≤ 0: the
  household's export rule is saved once (``curtailment_saved_export_rule``; ``battery_ok`` when
  Tesla reports none or ``never``), then the rule becomes ``never``. If Tesla already reports
  ``never`` it is sent ``pv_only`` then ``never`` so the setting takes (SPEC §5).
curtailed → normal only after CURTAIL_CALM_INTERVALS (2) consecutive 5-minute intervals with
  earnings > 0. Each interval is counted once however often it is checked (every minute by beat,
  plus every live price message); any reading with earnings ≤ 0 sets the count back to 0. Then the
  saved rule is restored.

Why asymmetric: each minute of export at a negative price costs money, while a needless
curtailment only forgoes a few minutes of near-zero earnings. One noisy positive interval inside a
negative stretch therefore never restores, and one noisy negative interval costs at most one
episode of at least 10 minutes (two export-rule writes), never a write per check.

Concurrency: one check per site at a time (Redis lock), and every state transition is a
compare-and-set on the curtailment fields, so a duplicate delivery finds the work done and sends
nothing. ``AutomationState.version`` is left alone: it guards the spike / force-discharge saved
state, and bumping it here would make their compare-and-set fail for no reason.

Commands go first and the state follows, so a worker killed in between is repaired by the next
check: the saved rule is written before the first command (and only if none is saved), entering
is marked after Tesla accepted ``never``, and leaving is marked after Tesla accepted the restore.

While a force discharge owns the battery the check stands aside (it needs to export).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from credentials.models import SiteCredentials
from devices.clients import tesla_client_for
from devices.commands import tesla_command_run
from devices.models import AutomationState, DeviceCommand, Site
from devices.providers.tesla import ExportRule, TeslaEnergyClient
from households.models import Event
from households.services import event_record
from pricing.clients import amber_client
from pricing.providers.amber import ChannelType
from tasks.locks import site_lock

CURTAIL_CALM_INTERVALS = 2
DEFAULT_EXPORT_RULE: ExportRule = "battery_ok"
RESTORABLE_RULES: frozenset[str] = frozenset({"battery_ok", "pv_only"})
CURTAIL_LOCK_TTL_SECONDS = 60  # > one check: an Amber read, a Tesla read and two commands
INTERVAL = dt.timedelta(minutes=5)


class CurtailOutcome(enum.StrEnum):
    CURTAILED = "curtailed"  # export rule set to never just now
    IN_FORCE = "in_force"  # already curtailed, price still not worth exporting
    CALMING = "calming"  # a positive interval counted, not enough of them yet
    COUNTED = "counted"  # this interval was counted already
    RESTORED = "restored"  # the saved rule is back
    NORMAL = "normal"  # not curtailed, nothing to do
    FAILED = "failed"  # Tesla answered result=false; the next check tries again
    STALE = "stale"  # the price given is for an interval that is over
    NO_PRICE = "no_price"  # Amber gave no current feed-in interval
    BUSY = "busy"
    GONE = "gone"
    DISABLED = "disabled"
    PAUSED = "paused"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class FeedInReading:
    feed_in_c_per_kwh: Decimal  # Amber's sign: negative = the household earns
    interval_end: dt.datetime

    @property
    def earnings_c_per_kwh(self) -> Decimal:
        return -self.feed_in_c_per_kwh


def interval_start(moment: dt.datetime) -> dt.datetime:
    """Start of the 5-minute interval in progress at ``moment``, in UTC (every Australian zone
    is a whole number of half-hours from UTC, so the boundaries agree)."""
    utc = moment.astimezone(dt.UTC)
    return utc.replace(minute=utc.minute - utc.minute % 5, second=0, microsecond=0)


def interval_end_after(moment: dt.datetime) -> dt.datetime:
    """End of the 5-minute interval in progress at ``moment`` (UTC)."""
    return interval_start(moment) + INTERVAL


def current_feed_in(site: Site) -> FeedInReading | None:
    """The feed-in price of the 5-minute interval in progress, fresh from Amber's REST API.

    Returns None when the site has no Amber token or Amber has no current feed-in interval.
    Amber errors propagate (the task's retry policy decides).
    """
    creds = SiteCredentials.objects.filter(site=site).first()
    if creds is None or not creds.amber_token:
        return None
    intervals = amber_client(creds.amber_token).get_current_prices(
        site.amber_site_id, resolution_min=5
    )
    for interval in intervals:
        if interval.is_current and interval.channel_type is ChannelType.FEED_IN:
            return FeedInReading(interval.price_c_per_kwh, interval.end_time)
    return None


def sites_to_check() -> list[int]:
    """Beat fan-out: Amber sites with curtailment on, and any site still curtailed (a site whose
    household turned curtailment off mid-episode gets its rule back on the next check)."""
    return sorted(
        Site.objects.filter(needs_reauthorisation=False)
        .filter(
            Q(curtailment_enabled=True, price_source=Site.PriceSource.AMBER)
            | Q(automation_state__curtailment_active=True)
        )
        .values_list("pk", flat=True)
    )


def site_curtailment_check(
    *,
    site_id: int,
    feed_in_c_per_kwh: Decimal | None = None,
    interval_end: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> CurtailOutcome:
    """Advance the site's curtailment state for one feed-in price (c/kWh, Amber's sign).

    Without a price the current one is fetched from Amber. A price given without
    ``interval_end`` is taken as the price of the interval in progress at ``now``; a price for an
    interval that is already over is ignored (a late message must not act). Amber and Tesla
    errors propagate.
    """
    moment = now or timezone.now()
    with site_lock("curtail", site_id, ttl_seconds=CURTAIL_LOCK_TTL_SECONDS) as held:
        if not held:
            return CurtailOutcome.BUSY
        return _check_locked(site_id, feed_in_c_per_kwh, interval_end, moment)


def _check_locked(
    site_id: int,
    feed_in_c_per_kwh: Decimal | None,
    interval_end: dt.datetime | None,
    now: dt.datetime,
) -> CurtailOutcome:
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return CurtailOutcome.GONE
    if site.needs_reauthorisation:
        return CurtailOutcome.PAUSED
    state, _ = AutomationState.objects.get_or_create(site=site)
    if state.force_discharge_until is not None and state.force_discharge_until > now:
        return CurtailOutcome.PAUSED
    if not site.curtailment_enabled:
        if state.curtailment_active:
            return _leave(site, state, why="Curtailment was turned off", now=now)
        return CurtailOutcome.DISABLED

    if feed_in_c_per_kwh is not None:
        reading = FeedInReading(feed_in_c_per_kwh, interval_end or interval_end_after(now))
        if reading.interval_end <= now:
            return CurtailOutcome.STALE
    elif site.price_source != Site.PriceSource.AMBER:
        return CurtailOutcome.UNSUPPORTED
    else:
        # Amber's current interval is current by definition: its clock is the reference.
        fetched = current_feed_in(site)
        if fetched is None:
            return CurtailOutcome.NO_PRICE
        reading = fetched

    if reading.earnings_c_per_kwh <= 0:
        if state.curtailment_calm_intervals:
            AutomationState.objects.filter(pk=state.pk).update(curtailment_calm_intervals=0)
        if state.curtailment_active:
            return CurtailOutcome.IN_FORCE
        return _enter(site, state, reading, now=now)

    if not state.curtailment_active:
        return CurtailOutcome.NORMAL
    last = state.curtailment_last_interval_end
    if last is not None and reading.interval_end <= last:
        calm = state.curtailment_calm_intervals
        if calm < CURTAIL_CALM_INTERVALS:
            return CurtailOutcome.COUNTED
    else:
        calm = state.curtailment_calm_intervals + 1
        counted = AutomationState.objects.filter(
            pk=state.pk,
            curtailment_active=True,
            curtailment_calm_intervals=state.curtailment_calm_intervals,
            curtailment_last_interval_end=last,
        ).update(
            curtailment_calm_intervals=calm, curtailment_last_interval_end=reading.interval_end
        )
        if not counted:
            return CurtailOutcome.COUNTED  # another check got here first
        if calm < CURTAIL_CALM_INTERVALS:
            return CurtailOutcome.CALMING
    return _leave(
        site,
        state,
        why=f"Exporting earns {reading.earnings_c_per_kwh} c/kWh again, "
        f"{CURTAIL_CALM_INTERVALS} intervals in a row",
        now=now,
    )


def _restorable(rule: str) -> ExportRule:
    if rule == "pv_only":
        return "pv_only"
    return DEFAULT_EXPORT_RULE


def _send_rule(site: Site, client: TeslaEnergyClient, rule: ExportRule, *, reason: str) -> bool:
    energy_site_id = int(site.tesla_energy_site_id)
    _, result = tesla_command_run(
        site=site,
        kind=DeviceCommand.Kind.EXPORT_RULE,
        payload={"export_rule": rule},
        reason=reason,
        call=lambda: client.set_grid_import_export(energy_site_id, export_rule=rule),
    )
    return result.result


def _enter(
    site: Site, state: AutomationState, reading: FeedInReading, *, now: dt.datetime
) -> CurtailOutcome:
    client = tesla_client_for(site)
    current = client.site_info(int(site.tesla_energy_site_id)).export_rule
    if not state.curtailment_saved_export_rule:
        # Saved once per episode: a retry after a crash must not save our own "never".
        saved = current if current in RESTORABLE_RULES else DEFAULT_EXPORT_RULE
        AutomationState.objects.filter(pk=state.pk, curtailment_saved_export_rule="").update(
            curtailment_saved_export_rule=saved
        )
    earnings = reading.earnings_c_per_kwh
    why = f"Solar curtailment: exporting earns {earnings} c/kWh"
    if current == "never" and not _send_rule(
        site, client, "pv_only", reason=f"{why}; Tesla already says never: pv_only first"
    ):
        return CurtailOutcome.FAILED
    if not _send_rule(site, client, "never", reason=why):
        return CurtailOutcome.FAILED
    entered = AutomationState.objects.filter(pk=state.pk, curtailment_active=False).update(
        curtailment_active=True,
        curtailment_since=now,
        curtailment_calm_intervals=0,
        curtailment_last_interval_end=reading.interval_end,
    )
    if entered:
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=Event.Automation.CURTAILMENT,
            decision="Solar export stopped: exporting would cost money",
            reason=f"The feed-in price earns {earnings} c/kWh (≤ 0), so the export rule is "
            f"now 'never'.",
            data={
                "earnings_c_per_kwh": str(earnings),
                "interval_end": reading.interval_end.isoformat(),
                "previous_rule": current or "",
            },
        )
    return CurtailOutcome.CURTAILED


def _leave(site: Site, state: AutomationState, *, why: str, now: dt.datetime) -> CurtailOutcome:
    restored = _restorable(state.curtailment_saved_export_rule)
    if not _send_rule(
        site, tesla_client_for(site), restored, reason=f"{why}: restore the household's rule"
    ):
        return CurtailOutcome.FAILED
    left = AutomationState.objects.filter(pk=state.pk, curtailment_active=True).update(
        curtailment_active=False,
        curtailment_since=None,
        curtailment_saved_export_rule="",
        curtailment_calm_intervals=0,
        curtailment_last_interval_end=None,
    )
    if left:
        since = state.curtailment_since
        minutes = int((now - since).total_seconds() // 60) if since else None
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=Event.Automation.CURTAILMENT,
            decision=f"Solar export restored ({restored})",
            reason=why,
            data={"export_rule": restored, "curtailed_minutes": minutes},
        )
    return CurtailOutcome.RESTORED
