"""Force discharge: on request, make the Powerwall export for 15-120 minutes, then hand it back.

State: ``AutomationState.force_discharge_until``. The end is scheduled for that moment and also
re-checked every minute by beat (tasks.spike.repair_overrides), so a lost task still restores.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from devices.battery_override import battery_override_apply, battery_override_release
from devices.clients import tesla_client_for
from devices.models import AutomationState, Site
from households.models import Event
from households.services import event_record
from tariffs.engine.overrides import FORCE_DISCHARGE_SELL_DOLLARS_PER_KWH, periods_for_minutes
from tariffs.models import TariffPush

DURATIONS_MINUTES = (15, 30, 45, 60, 90, 120)


def force_discharge_start(*, site_id: int, minutes: int) -> None:
    """Queue a force discharge (after commit). Raises ValueError for an unsupported duration."""
    if minutes not in DURATIONS_MINUTES:
        raise ValueError(
            f"duration must be one of {', '.join(map(str, DURATIONS_MINUTES))} minutes"
        )
    from tasks.spike import force_discharge_begin

    transaction.on_commit(lambda: force_discharge_begin.delay(site_id, minutes))


def force_discharge_stop(*, site_id: int) -> None:
    """Queue the end of a force discharge now (after commit)."""
    from tasks.spike import force_discharge_end

    transaction.on_commit(lambda: force_discharge_end.delay(site_id, None))


def force_discharge_begin(
    *, site_id: int, minutes: int, now: dt.datetime | None = None
) -> dt.datetime:
    moment = now or timezone.now()
    until = moment + dt.timedelta(minutes=minutes)
    site = Site.objects.get(pk=site_id)
    AutomationState.objects.get_or_create(site=site)
    AutomationState.objects.filter(site=site).update(force_discharge_until=until)
    local = moment.astimezone(site.zone)
    why = f"Force discharge for {minutes} min (until {until.astimezone(site.zone):%H:%M})"
    battery_override_apply(
        site=site,
        client=tesla_client_for(site),
        reason=TariffPush.Reason.FORCE_DISCHARGE,
        sell_dollars_per_kwh=FORCE_DISCHARGE_SELL_DOLLARS_PER_KWH,
        periods=periods_for_minutes(minutes, minute_of_half_hour=local.minute % 30),
        why=why,
        now=moment,
    )
    event_record(
        household_id=site.household_id,
        site_id=site.pk,
        automation=Event.Automation.FORCE_DISCHARGE,
        decision="Force discharge started",
        reason=why,
        data={"until": until.isoformat(), "minutes": minutes},
    )
    return until


def force_discharge_end(
    *, site_id: int, expected_until: dt.datetime | None, now: dt.datetime | None = None
) -> bool:
    """End the discharge (if ``expected_until`` is given, only that one: a newer request wins)
    and give the battery back. Returns True if the battery was restored."""
    moment = now or timezone.now()
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return False
    ending = AutomationState.objects.filter(site=site, force_discharge_until__isnull=False)
    if expected_until is not None:
        ending = ending.filter(force_discharge_until=expected_until)
    ended = ending.update(force_discharge_until=None)
    restored = battery_override_release(
        site=site,
        client=tesla_client_for(site),
        reason=TariffPush.Reason.RESTORE,
        why="Force discharge over: restore the household's tariff",
        now=moment,
    )
    if ended or restored:
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=Event.Automation.FORCE_DISCHARGE,
            decision="Force discharge ended; tariff and mode restored"
            if restored
            else "Force discharge ended",
            reason="on request" if expected_until is None else "its time was up",
        )
    return restored
