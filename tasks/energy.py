"""Energy sampling, demand peaks, hourly roll-ups and retention (default queue).

Beat sends ``sample_due`` every 30 s; it enqueues only the sites that are due (watched ones every
30 s, the others every 5 minutes; rules in devices/energy.py). A sample is worthless once the next
one is due, so samples expire fast and retry at most once: the next fan-out is the real retry.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.app.task import Task
from django.utils import timezone

from devices import demand, energy
from devices.clients import MissingCredentials
from devices.models import Site
from devices.providers import tesla
from devices.tokens import site_needs_reauthorisation_mark

logger = logging.getLogger(__name__)

# Below the watched interval (30 s): a queued sample older than this is dropped, not run late.
SAMPLE_EXPIRES_SECONDS = 25
ROLLUP_EXPIRES_SECONDS = 50 * 60
PRUNE_EXPIRES_SECONDS = 12 * 60 * 60
TRANSIENT = (tesla.Unavailable, tesla.DeviceOffline)


@shared_task(
    name="tasks.energy.sample_site",
    bind=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=3,
    retry_backoff_max=10,
    retry_jitter=True,
    max_retries=1,
    soft_time_limit=40,
    time_limit=50,
)
def sample_site(self: Task, site_id: int) -> None:
    """Store one live_status sample; when it is new, fold it into the month's demand peak."""
    try:
        recorded = energy.energy_sample_record(site_id=site_id)
    except tesla.RateLimited as exc:
        # Not retried: Retry-After is usually longer than the sampling interval, and the next
        # fan-out asks again once the site's slot frees up.
        logger.info("site %s: sample skipped, Tesla rate limit (%s)", site_id, exc.retry_after_s)
        return
    except tesla.TokenExpired:
        # Fleet access token past its expiry: the token refresh beat renews it; no lock-out.
        logger.info("site %s: sample skipped, Tesla access token expired", site_id)
        return
    except tesla.AuthError:
        site_needs_reauthorisation_mark(
            site_id=site_id, reason="Tesla refused the stored credentials: connect Tesla again."
        )
        return
    except MissingCredentials:
        logger.info("site %s: no Tesla credentials, not sampled", site_id)
        return
    if recorded is not None and recorded.created:
        demand.demand_after_sample(site_id=site_id, sampled_at=recorded.sample.sampled_at)


@shared_task(name="tasks.energy.sample_due", ignore_result=True)
def sample_due() -> None:
    """Beat, every 30 s: one sample task per site that is due and not claimed already."""
    for site_id in energy.sites_to_sample(now=timezone.now()):
        sample_site.apply_async((site_id,), expires=SAMPLE_EXPIRES_SECONDS)


@shared_task(
    name="tasks.energy.demand_update", ignore_result=True, soft_time_limit=100, time_limit=120
)
def demand_update(site_id: int) -> None:
    """Recompute the current billing month's demand peak from the samples (e.g. after the
    household edited its schedule's demand window). Peaks never go down."""
    site = Site.objects.filter(pk=site_id).first()
    if site is not None:
        demand.demand_month_recompute(
            site_id=site_id, month=demand.current_billing_month(site=site, now=timezone.now())
        )


@shared_task(
    name="tasks.energy.rollup_site", ignore_result=True, soft_time_limit=100, time_limit=120
)
def rollup_site(site_id: int) -> None:
    energy.energy_hours_rollup(site_id=site_id)


@shared_task(name="tasks.energy.rollup_all", ignore_result=True)
def rollup_all() -> None:
    """Beat, hourly (a little after MAX_GAP past the hour): roll up the hours just completed."""
    for site_id in energy.sites_with_energy():
        rollup_site.apply_async((site_id,), expires=ROLLUP_EXPIRES_SECONDS)


@shared_task(
    name="tasks.energy.prune_site", ignore_result=True, soft_time_limit=250, time_limit=300
)
def prune_site(site_id: int) -> None:
    energy.energy_samples_prune(site_id=site_id)


@shared_task(name="tasks.energy.prune", ignore_result=True)
def prune() -> None:
    """Beat, daily: roll up, then drop raw samples past ENERGY_RAW_RETENTION_DAYS, per site."""
    for site_id in energy.sites_with_energy():
        prune_site.apply_async((site_id,), expires=PRUNE_EXPIRES_SECONDS)
