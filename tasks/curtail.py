"""Solar curtailment tasks. Named ``tasks.curtail.*`` so they run on the ``curtail`` queue,
ahead of routine syncs (see powersync_site/celery.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from celery import shared_task
from celery.app.task import Task

from automations import curtailment, reconcile
from tasks.policy import TRANSIENT, upstream_policy

# A queued check older than this is dropped: the next minute's check has fresher prices.
CHECK_EXPIRES_SECONDS = 50


@shared_task(
    name="tasks.curtail.check_site",
    bind=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    retry_backoff_max=20,
    retry_jitter=True,
    max_retries=2,
    soft_time_limit=40,
    time_limit=50,
)
def check_site(
    self: Task,
    site_id: int,
    feed_in_c_per_kwh: str | float | None = None,
    interval_end: str | None = None,
) -> None:
    """One curtailment check, run by the site's reconcile: it goes on to write only when the
    intent changed (or the Powerwall is not in step yet). ``feed_in_c_per_kwh`` (Amber's sign)
    and ``interval_end`` (ISO 8601) come from the live listener; without them the check reads
    Amber."""
    with upstream_policy(self, site_id):
        reconcile.site_reconcile(
            site_id=site_id,
            check=curtailment.CurtailmentCheck(
                feed_in_c_per_kwh=None
                if feed_in_c_per_kwh is None
                else Decimal(str(feed_in_c_per_kwh)),
                interval_end=dt.datetime.fromisoformat(interval_end) if interval_end else None,
            ),
        )


@shared_task(name="tasks.curtail.check_all", ignore_result=True)
def check_all() -> None:
    """Beat, every minute: one check per site with curtailment on (or still curtailed)."""
    for site_id in curtailment.sites_to_check():
        check_site.apply_async((site_id,), expires=CHECK_EXPIRES_SECONDS)
