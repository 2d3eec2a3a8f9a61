"""The operator's kill switch: pause every Tesla write fleet-wide, for one NEM region or for one
site, with a reason; resume reconciles every site the pause held.

A pause is the "operator hold" intent, above every other: while one covers a site, its reconcile
still computes what it would do (and logs it once per change), but sends nothing. Staff reach it
through the admin, ``manage.py pause_writes`` / ``resume_writes`` and the staff-only API.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from automations import dispatch
from automations.models import WritePause
from devices.models import NemRegion, Site, in_nem_region

ACTIVE = Q(ended_at__isnull=True)


def covering_pause(site: Site) -> WritePause | None:
    """The active pause that covers ``site`` (the oldest, if several do), or None.

    One small query of every active pause (there are few, usually none), matched here: cheaper
    for the reconcile than matching in SQL, where the region of a site without an AEMO region
    needs its time zone mapped."""
    region = site.nem_region
    for pause in WritePause.objects.filter(ACTIVE).order_by("created_at", "id"):
        if (
            pause.scope == WritePause.Scope.FLEET
            or (pause.scope == WritePause.Scope.SITE and pause.site_id == site.pk)
            or (pause.scope == WritePause.Scope.REGION and region and pause.region == region)
        ):
            return pause
    return None


def active_pauses() -> QuerySet[WritePause]:
    return WritePause.objects.filter(ACTIVE).select_related("site", "created_by")


def sites_covered(pause: WritePause) -> QuerySet[Site]:
    """The sites with a Powerwall that ``pause`` covers."""
    sites = Site.objects.exclude(tesla_energy_site_id="")
    if pause.scope == WritePause.Scope.REGION:
        return sites.filter(in_nem_region(pause.region))
    if pause.scope == WritePause.Scope.SITE:
        return sites.filter(write_pauses=pause)
    return sites


@transaction.atomic
def writes_pause(
    *,
    scope: str,
    reason: str,
    region: str = "",
    site: Site | None = None,
    by: User | None = None,
) -> WritePause:
    """Pause Tesla writes for the fleet, a NEM region or a site.

    Raises ``ValidationError`` (field → message) for an incomplete or unknown scope, an unknown
    region or a missing reason.
    """
    reason = reason.strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Say why the writes are paused."
    if scope == WritePause.Scope.REGION:
        if region not in NemRegion.values:
            errors["region"] = f"Choose one of {', '.join(NemRegion.values)}."
        site = None
    elif scope == WritePause.Scope.SITE:
        if site is None:
            errors["site"] = "Choose the site to pause."
        region = ""
    elif scope == WritePause.Scope.FLEET:
        region, site = "", None
    else:
        errors["scope"] = f"Choose one of {', '.join(WritePause.Scope.values)}."
    if errors:
        raise ValidationError(errors)
    return WritePause.objects.create(
        scope=scope, region=region, site=site, reason=reason[:300], created_by=by
    )


@transaction.atomic
def writes_resume(*, pause: WritePause, by: User | None = None) -> int:
    """End ``pause`` and, after commit, reconcile every site it held. Returns how many sites
    were queued (0 if the pause had ended already)."""
    ended = WritePause.objects.filter(pk=pause.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), ended_by=by
    )
    if not ended:
        return 0
    pause.refresh_from_db()
    site_ids = list(sites_covered(pause).values_list("pk", flat=True))
    dispatch.reconcile_many(site_ids)
    return len(site_ids)
