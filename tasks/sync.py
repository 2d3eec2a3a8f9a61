"""TOU sync tasks: a beat fan-out at every 5-minute interval start, one task per site."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
from celery.app.task import Task
from django.utils import timezone

from devices.clients import tesla_client_for
from devices.models import Site
from devices.providers import tesla
from devices.tokens import site_needs_reauthorisation_mark
from households.models import Event
from households.services import event_record
from pricing.providers import aemo, amber
from tariffs import sync
from tariffs.models import TariffPush
from tariffs.push import tariff_push
from tasks.locks import site_lock

logger = logging.getLogger(__name__)

# Settled prices arrive about 35 s and 60 s after the interval starts (SPEC §5).
SETTLED_DELAYS_SECONDS = (35, 60)
# A queued sync older than this is dropped instead of run late.
SYNC_EXPIRES_SECONDS = 240
TRANSIENT = (amber.Unavailable, tesla.Unavailable, tesla.DeviceOffline)


@shared_task(
    name="tasks.sync.sync_site",
    bind=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=10,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=2,
    soft_time_limit=100,
    time_limit=120,
)
def sync_site(self: Task, site_id: int, reason: str, due: str | None = None) -> None:
    try:
        outcome = sync.site_sync(
            site_id=site_id,
            reason=reason,
            due=dt.datetime.fromisoformat(due) if due else None,
        )
    except amber.RateLimited as exc:
        raise self.retry(countdown=max(1, int(exc.retry_after or 60)), exc=exc) from exc
    except tesla.RateLimited as exc:
        raise self.retry(countdown=max(1, int(exc.retry_after_s or 60)), exc=exc) from exc
    except amber.AuthFailed:
        _amber_token_rejected(site_id)
        return
    except tesla.AuthError:
        site_needs_reauthorisation_mark(
            site_id=site_id, reason="Tesla refused the stored credentials: connect Tesla again."
        )
        return
    if outcome == sync.SyncOutcome.MISMATCH and self.request.retries < 1:
        raise self.retry(countdown=30)


def _amber_token_rejected(site_id: int) -> None:
    site = Site.objects.filter(pk=site_id).first()
    if site is not None:
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=Event.Automation.TOU_SYNC,
            decision="Amber refused the token",
            reason="Check the Amber token in the site's connections.",
            outcome=Event.Outcome.FAILED,
        )


@shared_task(name="tasks.sync.sync_all", ignore_result=True)
def sync_all() -> None:
    """Beat, at each 5-minute interval start: forecast sync now, settled syncs a little later."""
    try:
        sync.aemo_series_refresh()  # one AEMO read for every Flow Power site, before the fan-out
    except aemo.AemoError:
        # Flow Power sites then build from what is stored; the freshness rule refuses stale data.
        logger.warning("AEMO price series unavailable; Flow Power sites use stored prices")
    site_ids = Site.objects.filter(tou_sync_enabled=True, needs_reauthorisation=False).values_list(
        "pk", flat=True
    )
    start = timezone.now()
    for site_id in site_ids.iterator(chunk_size=1000):
        sync_site.apply_async(
            (site_id, TariffPush.Reason.FORECAST.value), expires=SYNC_EXPIRES_SECONDS
        )
    # Two messages wait for the settled prices, not one per site: workers hold every waiting
    # (ETA) message in memory, which at 10,000 sites is 20,000 messages per cycle.
    for delay in SETTLED_DELAYS_SECONDS:
        due = start + dt.timedelta(seconds=delay)
        sync_all_settled.apply_async((due.isoformat(),), eta=due, expires=SYNC_EXPIRES_SECONDS)


@shared_task(name="tasks.sync.sync_all_settled", ignore_result=True)
def sync_all_settled(due: str) -> None:
    """Settled prices have arrived (~35 s / ~60 s after the interval start): sync every site
    again; a site synced since ``due`` (a backlog ran it late) skips the fetch."""
    site_ids = Site.objects.filter(tou_sync_enabled=True, needs_reauthorisation=False).values_list(
        "pk", flat=True
    )
    for site_id in site_ids.iterator(chunk_size=1000):
        sync_site.apply_async(
            (site_id, TariffPush.Reason.SETTLED.value, due), expires=SYNC_EXPIRES_SECONDS
        )


@shared_task(
    name="tasks.sync.push_tariff",
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=10,
    retry_jitter=True,
    max_retries=2,
    soft_time_limit=100,
    time_limit=120,
)
def push_tariff(site_id: int, tariff_content: dict[str, Any], reason: str, why: str) -> None:
    """Push a given tariff (saved profile, custom plan). While a sync of the site runs, the push
    is retried later (countdown), never waited for in the worker."""
    site = Site.objects.filter(pk=site_id).first()
    if site is None or site.needs_reauthorisation:
        return
    with site_lock("sync", site_id, ttl_seconds=sync.SYNC_LOCK_TTL_SECONDS) as held:
        if not held:
            raise push_tariff.retry(countdown=30)
        try:
            tariff_push(
                site=site,
                client=tesla_client_for(site),
                content=tariff_content,
                reason=reason,
                why=why,
            )
        except tesla.AuthError:
            site_needs_reauthorisation_mark(
                site_id=site_id, reason="Tesla refused the stored credentials: connect Tesla again."
            )
