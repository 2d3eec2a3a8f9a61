"""Put a saved profile or a custom plan on a Powerwall now (queued; see tariffs.push)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from tariffs.engine.custom_tou import render_custom_tariff, schedule_from_dict
from tariffs.engine.tesla_format import TariffInvalid
from tariffs.models import TariffPush
from tariffs.push import tariff_push_request
from tariffs.selectors import custom_schedules_for_user, tou_profiles_for_user
from web.views.common import site_or_404


def _push(
    request: HttpRequest, *, content: dict[str, Any], reason: str, what: str, back: str, **kw: Any
) -> HttpResponse:
    raw_site = request.POST.get("site", "")
    if not raw_site.isdigit():
        messages.error(request, "Choose the site to push to.")
        return redirect(back, **kw)
    site = site_or_404(request, int(raw_site))
    if not site.tesla_energy_site_id or site.needs_reauthorisation:
        messages.error(request, "Connect this site's Powerwall first.")
        return redirect(back, **kw)
    try:
        tariff_push_request(site=site, tariff_content=content, reason=reason, why=f"Push {what}")
    except TariffInvalid as exc:
        messages.error(request, f"Tesla would refuse this tariff: {exc}")
        return redirect(back, **kw)
    note = " Live sync is on, so the next sync replaces it." if site.tou_sync_enabled else ""
    messages.success(request, f"Pushing {what} to {site.name}.{note}")
    return redirect("web:dashboard", site_id=site.pk)


@login_required
@require_POST
def profile_push(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_object_or_404(tou_profiles_for_user(request.user), pk=profile_id)
    return _push(
        request,
        content=profile.tariff_content,
        reason=TariffPush.Reason.PROFILE,
        what=f"profile “{profile.name}”",
        back="web:profile_detail",
        profile_id=profile.pk,
    )


@login_required
@require_POST
def schedule_push(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_object_or_404(custom_schedules_for_user(request.user), pk=schedule_id)
    return _push(
        request,
        content=render_custom_tariff(schedule_from_dict(schedule.definition)),
        reason=TariffPush.Reason.CUSTOM,
        what=f"plan “{schedule.name}”",
        back="web:schedule_edit",
        schedule_id=schedule.pk,
    )
