"""Solar curtailment: stop exporting while exporting would cost the household money.

Sign convention: Amber's feed-in ``perKwh`` is negative when the household earns, so the export
earnings are ``-feed_in_c_per_kwh`` c/kWh. Earnings ≤ 0 means an exported kWh earns nothing or
costs money.

The curtailment intent (export rule ``never``) goes on AT ONCE, on any reading of the interval in
progress with earnings ≤ 0. It comes off only after CURTAIL_CALM_INTERVALS (2) consecutive
5-minute intervals with earnings > 0; each interval is counted once however often it is checked
(every minute by beat, plus every live price message), and any reading with earnings ≤ 0 sets
the count back to 0. The reconcile does the rest: ``never`` while curtailment wins the export
rule (a spike or force discharge outranks it and exports), and the household's own rule when it
ends (SPEC §5's ``pv_only`` → ``never`` nudge when the rule is already ``never`` included).

Why asymmetric: each minute of export at a negative price costs money, while a needless
curtailment only forgoes a few minutes of near-zero earnings. One noisy positive interval inside
a negative stretch therefore never restores, and one noisy negative interval costs at most one
episode of at least 10 minutes (two export-rule writes), never a write per check.

Concurrency: every transition is a compare-and-set (the intent's ``active``, the calm count), so
a duplicate delivery finds the work done and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from automations.checks import CheckContext, Checked, state_update
from automations.intents import SiteIntents
from automations.models import AutomationState, IntentKind, SiteIntent
from credentials.models import SiteCredentials
from devices.models import Site
from pricing.clients import amber_client
from pricing.providers.amber import ChannelType

CURTAIL_CALM_INTERVALS = 2
INTERVAL = dt.timedelta(minutes=5)


class CurtailOutcome(enum.StrEnum):
    CURTAILED = "curtailed"  # the intent went on just now
    IN_FORCE = "in_force"  # already on, price still not worth exporting
    CALMING = "calming"  # a positive interval counted, not enough of them yet
    COUNTED = "counted"  # this interval was counted already
    RESTORED = "restored"  # the intent came off
    NORMAL = "normal"  # off, nothing to do
    STALE = "stale"  # the price given is for an interval that is over
    NO_PRICE = "no_price"  # Amber gave no current feed-in interval
    DISABLED = "disabled"
    UNSUPPORTED = "unsupported"

    @property
    def changed(self) -> bool:
        """The intent changed: the site needs a reconcile."""
        return self in (CurtailOutcome.CURTAILED, CurtailOutcome.RESTORED)


@dataclass(frozen=True, slots=True)
class FeedInReading:
    feed_in_c_per_kwh: Decimal  # Amber's sign: negative = the household earns
    interval_end: dt.datetime

    @property
    def earnings_c_per_kwh(self) -> Decimal:
        return -self.feed_in_c_per_kwh


def interval_end_after(moment: dt.datetime) -> dt.datetime:
    """End of the 5-minute interval in progress at ``moment`` (UTC; every Australian zone is a
    whole number of half-hours from UTC, so the boundaries agree)."""
    utc = moment.astimezone(dt.UTC)
    return utc.replace(minute=utc.minute - utc.minute % 5, second=0, microsecond=0) + INTERVAL


def current_feed_in(site: Site, creds: SiteCredentials | None) -> FeedInReading | None:
    """The feed-in price of the 5-minute interval in progress, fresh from Amber's REST API.

    Returns None when the site has no Amber token or Amber has no current feed-in interval.
    Amber errors propagate (the task's retry policy decides).
    """
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
    curtailed = SiteIntent.objects.filter(kind=IntentKind.CURTAILMENT, active=True)
    return sorted(
        Site.objects.filter(needs_reauthorisation=False)
        .filter(
            Q(curtailment_enabled=True, price_source=Site.PriceSource.AMBER)
            | Q(pk__in=curtailed.values("site_id"))
        )
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class CurtailmentCheck:
    """One curtailment check, run by the site's reconcile pass
    (``site_reconcile(site_id=..., check=CurtailmentCheck(...))``): the feed-in price (c/kWh,
    Amber's sign) of the interval ending ``interval_end``, or without a price the current one
    fetched from Amber.

    A price given without ``interval_end`` is taken as the price of the interval in progress;
    a price for an interval that is already over is ignored (a late message must not act).
    Amber errors propagate. Its ``what`` is a ``CurtailOutcome``.
    """

    feed_in_c_per_kwh: Decimal | None = None
    interval_end: dt.datetime | None = None

    def run(self, context: CheckContext) -> Checked:
        outcome = self._advance(context)
        return Checked(outcome, outcome.changed)

    def _advance(self, context: CheckContext) -> CurtailOutcome:
        site, state, intents, now = context.site, context.state, context.intents, context.now
        active = intents.of(IntentKind.CURTAILMENT) is not None
        if not site.curtailment_enabled:
            if active:
                return _leave(intents, state, why="Curtailment was turned off")
            return CurtailOutcome.DISABLED

        if self.feed_in_c_per_kwh is not None:
            end = self.interval_end or interval_end_after(now)
            reading = FeedInReading(self.feed_in_c_per_kwh, end)
            if reading.interval_end <= now:
                return CurtailOutcome.STALE
        elif site.price_source != Site.PriceSource.AMBER:
            return CurtailOutcome.UNSUPPORTED
        else:
            # Amber's current interval is current by definition: its clock is the reference.
            fetched = current_feed_in(site, context.credentials)
            if fetched is None:
                return CurtailOutcome.NO_PRICE
            reading = fetched

        if reading.earnings_c_per_kwh <= 0:
            if state.curtailment_calm_intervals:
                state_update(state, curtailment_calm_intervals=0)
            if active:
                return CurtailOutcome.IN_FORCE
            return _enter(intents, state, reading, now=now)

        if not active:
            return CurtailOutcome.NORMAL
        last = state.curtailment_last_interval_end
        if last is not None and reading.interval_end <= last:
            if state.curtailment_calm_intervals < CURTAIL_CALM_INTERVALS:
                return CurtailOutcome.COUNTED
        else:
            calm = state.curtailment_calm_intervals + 1
            counted = AutomationState.objects.filter(
                pk=state.pk,
                curtailment_calm_intervals=state.curtailment_calm_intervals,
                curtailment_last_interval_end=last,
            ).update(
                curtailment_calm_intervals=calm,
                curtailment_last_interval_end=reading.interval_end,
            )
            if not counted:
                return CurtailOutcome.COUNTED  # another check got here first
            state.curtailment_calm_intervals = calm
            state.curtailment_last_interval_end = reading.interval_end
            if calm < CURTAIL_CALM_INTERVALS:
                return CurtailOutcome.CALMING
        return _leave(
            intents,
            state,
            why=f"Exporting earns {reading.earnings_c_per_kwh:.1f} c/kWh again, "
            f"{CURTAIL_CALM_INTERVALS} intervals in a row",
        )


def _enter(
    intents: SiteIntents, state: AutomationState, reading: FeedInReading, *, now: dt.datetime
) -> CurtailOutcome:
    earnings = reading.earnings_c_per_kwh
    state_update(
        state, curtailment_calm_intervals=0, curtailment_last_interval_end=reading.interval_end
    )
    started = intents.set(
        IntentKind.CURTAILMENT,
        why=f"Exporting earns {earnings:.1f} c/kWh (≤ 0): solar export stops until it pays again",
        data={
            "earnings_c_per_kwh": str(earnings),
            "interval_end": reading.interval_end.isoformat(),
        },
        now=now,
        started="Solar export stopped: exporting would cost money",
    )
    return CurtailOutcome.CURTAILED if started else CurtailOutcome.IN_FORCE


def _leave(intents: SiteIntents, state: AutomationState, *, why: str) -> CurtailOutcome:
    state_update(state, curtailment_calm_intervals=0, curtailment_last_interval_end=None)
    ended = intents.clear(IntentKind.CURTAILMENT, why=why, ended="Solar export allowed again")
    return CurtailOutcome.RESTORED if ended else CurtailOutcome.COUNTED
