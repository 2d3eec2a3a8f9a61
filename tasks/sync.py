"""Live price sync tasks: a beat fan-out at every 5-minute interval start, one task per site,
each a reconcile that fetches prices now (automations/routine.py)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from celery.app.task import Task
from django.utils import timezone

from automations import reconcile, routine
from automations.dispatch import SYNC_EXPIRES_SECONDS
from devices.models import Site
from pricing.providers import aemo
from tariffs.models import TariffPush
from tasks.policy import TRANSIENT, upstream_policy

logger = logging.getLogger(__name__)

# Settled prices arrive about 35 s and 60 s after the interval starts (SPEC §5).
SETTLED_DELAYS_SECONDS = (35, 60)


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
    result = None
    with upstream_policy(self, site_id, default_retry_s=60):
        result = reconcile.site_reconcile(
            site_id=site_id,
            routine=reason,
            due=dt.datetime.fromisoformat(due) if due else None,
        )
    if (
        result is not None
        and result.sync == routine.SyncOutcome.MISMATCH
        and self.request.retries < 1
    ):
        raise self.retry(countdown=30)


def _syncing_sites() -> list[int]:
    return list(
        Site.objects.filter(tou_sync_enabled=True, needs_reauthorisation=False).values_list(
            "pk", flat=True
        )
    )


@shared_task(name="tasks.sync.sync_all", ignore_result=True)
def sync_all() -> None:
    """Beat, at each 5-minute interval start: forecast sync now, settled syncs a little later."""
    try:
        routine.aemo_series_refresh()  # one AEMO read for every Flow Power site, before the fan-out
    except aemo.AemoError:
        # Flow Power sites then build from what is stored; the freshness rule refuses stale data.
        logger.warning("AEMO price series unavailable; Flow Power sites use stored prices")
    start = timezone.now()
    for site_id in _syncing_sites():
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
    for site_id in _syncing_sites():
        sync_site.apply_async(
            (site_id, TariffPush.Reason.SETTLED.value, due), expires=SYNC_EXPIRES_SECONDS
        )
