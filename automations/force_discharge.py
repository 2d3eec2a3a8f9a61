"""Force discharge: on request, make the Powerwall export for 15-120 minutes, then hand it back.

The force discharge intent runs until its ``until``: the reconcile saves the tariff the Powerwall
holds, sets autonomous and battery_ok and pushes an export tariff ($2/kWh) over the window. A
reconcile is queued for the moment it ends, and the minute sweep ends it too if that one is lost;
stopping early clears the intent. Either way the Powerwall goes back to what waits behind it.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from automations import dispatch
from automations.intents import intent_clear, intent_set
from automations.models import IntentKind
from devices.models import Site
from tariffs.engine.overrides import FORCE_DISCHARGE_SELL_DOLLARS_PER_KWH, periods_for_minutes

DURATIONS_MINUTES = (15, 30, 45, 60, 90, 120)


@transaction.atomic
def force_discharge_start(
    *, site: Site, minutes: int, now: dt.datetime | None = None
) -> dt.datetime:
    """Start (or restart) a force discharge; the reconcile is queued after commit. Returns when
    it ends. Raises ValueError for an unsupported duration."""
    if minutes not in DURATIONS_MINUTES:
        raise ValueError(
            f"duration must be one of {', '.join(map(str, DURATIONS_MINUTES))} minutes"
        )
    moment = now or timezone.now()
    until = moment + dt.timedelta(minutes=minutes)
    local = moment.astimezone(site.zone)
    intent_set(
        site_id=site.pk,
        household_id=site.household_id,
        kind=IntentKind.FORCE_DISCHARGE,
        why=f"Force discharge for {minutes} min, until {until.astimezone(site.zone):%H:%M}",
        data={
            "minutes": minutes,
            "sell_dollars_per_kwh": str(FORCE_DISCHARGE_SELL_DOLLARS_PER_KWH),
            "window_start": moment.astimezone(dt.UTC).isoformat(),
            "periods": periods_for_minutes(minutes, minute_of_half_hour=local.minute % 30),
        },
        until=until,
        now=moment,
        started="Force discharge started",
    )
    dispatch.reconcile(site.pk)
    dispatch.reconcile(site.pk, eta=until)
    return until


@transaction.atomic
def force_discharge_stop(*, site: Site) -> bool:
    """Stop a force discharge now (the reconcile is queued after commit). False if none ran."""
    stopped = intent_clear(
        site_id=site.pk,
        household_id=site.household_id,
        kind=IntentKind.FORCE_DISCHARGE,
        why="Stopped on request",
        ended="Force discharge stopped",
    )
    if stopped:
        dispatch.reconcile(site.pk)
    return stopped
