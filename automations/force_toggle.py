"""Force mode toggle (opt-in, ``Site.force_mode_toggle_enabled``): after a tariff push made from
SETTLED prices and confirmed by read-back, the Powerwall goes to ``self_consumption`` for
TOGGLE_SECONDS and back, so it re-plans against the tariff it now holds.

As an intent: FORCE_TOGGLE wants ``self_consumption`` until TOGGLE_SECONDS from now; when it
ends, the household's own mode (normally ``autonomous``) comes back through the reconcile. A
spike or force discharge outranks it (they want ``autonomous``), so no toggle fights them.

- At most once per 5-minute interval per site: the interval is claimed by compare-and-set on
  ``AutomationState.force_toggle_interval_start``, so the second settled push of an interval and
  duplicate deliveries toggle nothing.
- The way back is a reconcile scheduled TOGGLE_SECONDS ahead (never a sleeping worker); the
  minute sweep (tasks.reconcile.sweep) ends a toggle whose scheduled reconcile was lost.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from automations import dispatch
from automations.intents import OVERRIDES, intent_set
from automations.models import AutomationState, IntentKind, SiteIntent
from devices.models import Site

TOGGLE_SECONDS = 5


def interval_start(moment: dt.datetime) -> dt.datetime:
    """Start of the 5-minute interval in progress at ``moment``, in UTC (every Australian zone
    is a whole number of half-hours from UTC, so the boundaries agree)."""
    utc = moment.astimezone(dt.UTC)
    return utc.replace(minute=utc.minute - utc.minute % 5, second=0, microsecond=0)


def after_settled_push(*, site: Site, push_id: int, now: dt.datetime | None = None) -> bool:
    """Called by the reconcile after a confirmed settled-price push. Returns True when a toggle
    started (the reconcile then runs again to send it)."""
    if not site.force_mode_toggle_enabled:
        return False
    moment = now or timezone.now()
    overridden = SiteIntent.objects.filter(site=site, kind__in=OVERRIDES, active=True).exists()
    if overridden:
        return False
    interval = interval_start(moment)
    claimed = (
        AutomationState.objects.filter(site=site)
        .filter(
            Q(force_toggle_interval_start__isnull=True)
            | Q(force_toggle_interval_start__lt=interval)
        )
        .update(force_toggle_interval_start=interval)
    )
    if not claimed:
        return False
    until = moment + dt.timedelta(seconds=TOGGLE_SECONDS)
    intent_set(
        site_id=site.pk,
        household_id=site.household_id,
        kind=IntentKind.FORCE_TOGGLE,
        why=f"Settled-price push #{push_id}: self-consumption for {TOGGLE_SECONDS} s, then back, "
        "so the Powerwall re-plans against the tariff it now holds",
        data={"push_id": push_id},
        until=until,
        now=moment,
    )
    dispatch.reconcile(site.pk, queue="curtail", countdown=TOGGLE_SECONDS)
    return True
