from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from devices import tokens
from devices.providers.tesla import RateLimited, Unavailable


@shared_task(
    name="tasks.tokens.refresh_site",
    ignore_result=True,
    autoretry_for=(Unavailable, RateLimited),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=5,
)
def refresh_site(site_id: int) -> None:
    tokens.tesla_tokens_refresh(site_id=site_id)


@shared_task(name="tasks.tokens.refresh_expiring", ignore_result=True)
def refresh_expiring() -> None:
    """Fan-out from beat: one refresh task per Fleet API site whose token expires soon."""
    for site_id in tokens.sites_needing_refresh(now=timezone.now()):
        refresh_site.delay(site_id)
