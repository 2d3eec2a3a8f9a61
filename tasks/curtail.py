"""Solar curtailment and force mode toggle tasks. Named ``tasks.curtail.*`` so they run on the
``curtail`` queue, ahead of routine syncs (see powersync_site/celery.py)."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from celery import shared_task
from celery.app.task import Task
from django.utils import timezone

from devices import curtailment, force_toggle
from devices.clients import MissingCredentials
from devices.providers import tesla
from devices.tokens import site_needs_reauthorisation_mark
from pricing.providers import amber

logger = logging.getLogger(__name__)

TRANSIENT = (amber.Unavailable, tesla.Unavailable, tesla.DeviceOffline)
# A queued check older than this is dropped: the next minute's check has fresher prices.
CHECK_EXPIRES_SECONDS = 50
REAUTHORISE = "Tesla refused the stored credentials: connect Tesla again."


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
    """One curtailment check. ``feed_in_c_per_kwh`` (Amber's sign, as a string to stay exact in
    JSON) and ``interval_end`` (ISO 8601) come from the live listener; without them the task
    reads Amber."""
    try:
        curtailment.site_curtailment_check(
            site_id=site_id,
            feed_in_c_per_kwh=None
            if feed_in_c_per_kwh is None
            else Decimal(str(feed_in_c_per_kwh)),
            interval_end=dt.datetime.fromisoformat(interval_end) if interval_end else None,
        )
    except amber.RateLimited as exc:
        raise self.retry(countdown=max(1, int(exc.retry_after or 30)), exc=exc) from exc
    except tesla.RateLimited as exc:
        raise self.retry(countdown=max(1, int(exc.retry_after_s or 30)), exc=exc) from exc
    except tesla.AuthError:
        site_needs_reauthorisation_mark(site_id=site_id, reason=REAUTHORISE)
    except (amber.AuthFailed, MissingCredentials) as exc:
        # Not retried; the routine sync reports a refused Amber token in the event log.
        logger.warning("curtailment check of site %s skipped: %s", site_id, type(exc).__name__)


@shared_task(name="tasks.curtail.check_all", ignore_result=True)
def check_all() -> None:
    """Beat, every minute: one check per site with curtailment on (or still curtailed)."""
    for site_id in curtailment.sites_to_check():
        check_site.apply_async((site_id,), expires=CHECK_EXPIRES_SECONDS)


@shared_task(name="tasks.curtail.toggle_begin", ignore_result=True)
def toggle_begin(site_id: int, push_id: int) -> None:
    """Not retried: the interval is claimed before the command, so a retry could not toggle
    again; a lost way back is finished by toggle_repair."""
    try:
        outcome = force_toggle.force_toggle_begin(site_id=site_id, push_id=push_id)
    except tesla.AuthError:
        site_needs_reauthorisation_mark(site_id=site_id, reason=REAUTHORISE)
        return
    except MissingCredentials:
        logger.warning("force toggle of site %s skipped: no Tesla credentials", site_id)
        return
    if outcome == force_toggle.ToggleOutcome.TOGGLED:
        toggle_end.apply_async((site_id,), countdown=force_toggle.TOGGLE_DELAY_SECONDS)


@shared_task(
    name="tasks.curtail.toggle_end",
    bind=True,
    ignore_result=True,
    autoretry_for=(tesla.Unavailable, tesla.DeviceOffline),
    retry_backoff=2,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=3,
)
def toggle_end(self: Task, site_id: int) -> None:
    try:
        force_toggle.force_toggle_end(site_id=site_id)
    except tesla.RateLimited as exc:
        raise self.retry(countdown=max(1, int(exc.retry_after_s or 10)), exc=exc) from exc
    except tesla.AuthError:
        site_needs_reauthorisation_mark(site_id=site_id, reason=REAUTHORISE)
    except MissingCredentials:
        logger.warning("force toggle of site %s not finished: no Tesla credentials", site_id)


@shared_task(name="tasks.curtail.toggle_repair", ignore_result=True)
def toggle_repair() -> None:
    """Beat, every minute: finish toggles whose scheduled way back was lost."""
    for site_id in force_toggle.sites_with_overdue_toggle(now=timezone.now()):
        toggle_end.apply_async((site_id,), expires=CHECK_EXPIRES_SECONDS)
