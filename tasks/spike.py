"""Spike response tasks. They run on the ``spike`` queue, ahead of routine syncs (see
powersync_site/celery.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from celery import shared_task
from celery.app.task import Task

from automations import reconcile, spike
from devices.providers import tesla
from pricing.providers import aemo
from tasks.policy import TRANSIENT, upstream_policy

CHECK_EXPIRES_SECONDS = 50


@shared_task(
    name="tasks.spike.check_regions",
    ignore_result=True,
    autoretry_for=(aemo.Unavailable,),
    retry_backoff=5,
    max_retries=2,
)
def check_regions() -> None:
    """Beat, every minute: one AEMO read for all regions, fanned out to the sites it concerns."""
    for region, price in spike.aemo_prices_check().items():
        for site_id in spike.sites_to_evaluate(region, price.rrp_dollars_per_mwh):
            evaluate_site.apply_async(
                (site_id, str(price.rrp_dollars_per_mwh), price.interval_end_utc.isoformat()),
                expires=CHECK_EXPIRES_SECONDS,
            )


@shared_task(
    name="tasks.spike.evaluate_site",
    bind=True,
    ignore_result=True,
    autoretry_for=(*TRANSIENT, tesla.RateLimited),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=3,
)
def evaluate_site(self: Task, site_id: int, rrp_dollars_per_mwh: str, interval_end: str) -> None:
    """The spike check for one regional price, run by the site's reconcile: it goes on to
    write only when the spike intent changed (or the Powerwall is not in step yet)."""
    with upstream_policy(self, site_id, default_retry_s=5):
        reconcile.site_reconcile(
            site_id=site_id,
            check=spike.SpikeCheck(
                Decimal(rrp_dollars_per_mwh), dt.datetime.fromisoformat(interval_end)
            ),
        )
