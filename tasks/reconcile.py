"""Reconcile tasks: one site (its intents changed, or one ends now), and the minute sweep that
catches what a lost task would leave behind (an intent past its time, a site not in step)."""

from __future__ import annotations

from celery import shared_task
from celery.app.task import Task
from django.utils import timezone

from automations import reconcile
from automations.selectors import sites_to_sweep
from tasks.policy import TRANSIENT, upstream_policy

SWEEP_EXPIRES_SECONDS = 50


@shared_task(
    name="tasks.reconcile.site",
    bind=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
    soft_time_limit=100,
    time_limit=120,
)
def site(self: Task, site_id: int) -> None:
    with upstream_policy(self, site_id):
        reconcile.site_reconcile(site_id=site_id)


@shared_task(name="tasks.reconcile.sweep", ignore_result=True)
def sweep() -> None:
    """Beat, every minute: reconcile sites with an intent past its time or not in step."""
    for site_id in sites_to_sweep(now=timezone.now()):
        site.apply_async((site_id,), queue="spike", expires=SWEEP_EXPIRES_SECONDS)
