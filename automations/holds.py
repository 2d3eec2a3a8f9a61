"""Household holds: a plan or saved profile the household puts on its Powerwall, held there until
it resumes live price sync or for the hours it chose. Live price sync waits behind a hold (it no
longer overwrites it at the next sync); a spike, curtailment or force discharge still outranks
it, and the hold comes back when they end.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from automations import dispatch
from automations.intents import intent_clear, intent_set
from automations.models import IntentKind
from devices.models import Site
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.tesla_format import validate_tariff_content_v2

HOLD_HOURS_CHOICES = (1, 3, 6, 12, 24, 48, 168)


@transaction.atomic
def household_hold_start(
    *,
    site: Site,
    tariff_content: dict[str, Any],
    name: str,
    source: str,
    source_id: int,
    hours: int | None = None,
    by: str = "",
    now: dt.datetime | None = None,
) -> dt.datetime | None:
    """Hold ``tariff_content`` on the site's Powerwall (``source``: "profile" or "plan"), until
    the household resumes live price sync or for ``hours``. The reconcile is queued after
    commit. Returns when the hold ends by itself (None: until resumed).

    Raises ``TariffInvalid`` for a tariff Tesla would refuse, ``ValueError`` for other hours
    than HOLD_HOURS_CHOICES.
    """
    validate_tariff_content_v2(tariff_content)
    if hours is not None and hours not in HOLD_HOURS_CHOICES:
        raise ValueError(f"hold for one of {', '.join(map(str, HOLD_HOURS_CHOICES))} hours")
    moment = now or timezone.now()
    until = moment + dt.timedelta(hours=hours) if hours else None
    what = f"Your {'plan' if source == 'plan' else 'profile'} “{name}”"
    held = (
        f"held until {until.astimezone(site.zone):%a %H:%M}"
        if until
        else "held until you resume price sync"
    )
    intent_set(
        site_id=site.pk,
        household_id=site.household_id,
        kind=IntentKind.HOUSEHOLD_HOLD,
        why=f"{what}, {held}" + (f" (asked by {by})" if by else ""),
        data={
            "name": name,
            "source": source,
            "source_id": source_id,
            "tariff": tariff_content,
            "fingerprint": tariff_fingerprint(tariff_content),
        },
        until=until,
        now=moment,
        started=f"{what} put on the Powerwall",
    )
    dispatch.reconcile(site.pk, queue=dispatch.BULK_QUEUE)
    if until is not None:
        dispatch.reconcile(site.pk, queue=dispatch.BULK_QUEUE, eta=until)
    return until


@transaction.atomic
def household_hold_end(*, site: Site, by: str = "") -> bool:
    """End the household's hold: live price sync takes the tariff again, from fresh prices (or,
    with it off, the held tariff simply stays). False if no hold was on."""
    ended = intent_clear(
        site_id=site.pk,
        household_id=site.household_id,
        kind=IntentKind.HOUSEHOLD_HOLD,
        why="Live price sync resumed" + (f" by {by}" if by else ""),
        ended="Hold ended: back to live prices" if site.tou_sync_enabled else "Hold ended",
    )
    if ended:
        dispatch.reconcile(site.pk, queue=dispatch.BULK_QUEUE)
    return ended
