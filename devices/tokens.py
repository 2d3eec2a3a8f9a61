"""Tesla Fleet API token refresh.

Tesla refresh tokens are single-use: the refresh that succeeds returns a new pair, and the old
refresh token is dead. So, per site:
1. only one refresh runs at a time (Redis lock). A second caller does not wait for the first:
   it returns BUSY at once and frees its worker thread. Its only caller is the Beat fan-out,
   which runs again long before the REFRESH_AHEAD margin is spent, and the holder's task
   retries its own transient failures,
2. after taking the lock we re-read the tokens: if someone else just refreshed, we are done,
3. the new access + refresh tokens + expiry are written in ONE update statement,
4. a refusal (invalid_grant…) marks the site "needs re-authorisation", which pauses its automations
   and tells the household why.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging

from django.utils import timezone

from automations import dispatch
from credentials.models import SiteCredentials
from devices.clients import tesla_oauth_client
from devices.models import Site
from devices.providers.tesla import AuthFailed
from households.models import Event
from households.services import event_record
from ops.locks import site_lock

logger = logging.getLogger(__name__)

REFRESH_AHEAD = dt.timedelta(minutes=15)
LOCK_TTL_SECONDS = 60  # > the token call's connect + read timeout


class RefreshOutcome(enum.StrEnum):
    REFRESHED = "refreshed"
    STILL_FRESH = "still_fresh"
    BUSY = "busy"
    NEEDS_REAUTHORISATION = "needs_reauthorisation"


def site_needs_reauthorisation_mark(*, site_id: int, reason: str) -> None:
    """Pause the site's automations and tell the household why (once)."""
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return
    updated = Site.objects.filter(pk=site.pk, needs_reauthorisation=False).update(
        needs_reauthorisation=True
    )
    if updated:
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=Event.Automation.TOKEN_REFRESH,
            decision="Tesla connection needs re-authorisation; automations paused",
            reason=reason,
            outcome=Event.Outcome.FAILED,
        )


def tesla_tokens_refresh(
    *, site_id: int, now: dt.datetime | None = None, force: bool = False
) -> RefreshOutcome:
    """Refresh the site's Fleet API tokens if they expire within REFRESH_AHEAD (or ``force``).

    Raises the client's transient errors (Unavailable, RateLimited) for the caller to retry: the
    stored refresh token is untouched in that case.
    """
    with site_lock("tesla-token", site_id, ttl_seconds=LOCK_TTL_SECONDS) as held:
        if not held:
            return RefreshOutcome.BUSY
        moment = now or timezone.now()
        creds = SiteCredentials.objects.select_related("site").get(site_id=site_id)
        site = creds.site
        expires_at = creds.tesla_token_expires_at
        if not force and expires_at is not None and expires_at > moment + REFRESH_AHEAD:
            return RefreshOutcome.STILL_FRESH
        if not creds.tesla_refresh_token:
            site_needs_reauthorisation_mark(
                site_id=site.pk, reason="No Tesla refresh token is stored: connect Tesla again."
            )
            return RefreshOutcome.NEEDS_REAUTHORISATION
        try:
            tokens = tesla_oauth_client().refresh(creds.tesla_refresh_token)
        except AuthFailed:
            site_needs_reauthorisation_mark(
                site_id=site.pk,
                reason="Tesla refused the stored refresh token: connect Tesla again.",
            )
            return RefreshOutcome.NEEDS_REAUTHORISATION
        # One statement: a crash can never leave the new access token with the old refresh token.
        SiteCredentials.objects.filter(pk=creds.pk).update(
            tesla_access_token=tokens.access_token,
            tesla_refresh_token=tokens.refresh_token or creds.tesla_refresh_token,
            tesla_token_expires_at=tokens.expires_at,
            updated_at=moment,
        )
        unlocked = Site.objects.filter(pk=site.pk, needs_reauthorisation=True).update(
            needs_reauthorisation=False
        )
        if unlocked:  # writes were held while Tesla locked the site out
            dispatch.reconcile(site.pk, queue=dispatch.BULK_QUEUE)
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=Event.Automation.TOKEN_REFRESH,
            decision="Tesla tokens refreshed",
            reason=f"They expired at {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "",
            data={"expires_at": tokens.expires_at.isoformat()},
        )
        logger.info("refreshed Tesla tokens of site %s", site_id)
        return RefreshOutcome.REFRESHED


def sites_needing_refresh(*, now: dt.datetime) -> list[int]:
    return list(
        SiteCredentials.objects.filter(
            site__tesla_access=Site.TeslaAccess.FLEET,
            site__needs_reauthorisation=False,
            tesla_refresh_token__isnull=False,
            tesla_token_expires_at__lt=now + REFRESH_AHEAD,
        ).values_list("site_id", flat=True)
    )
