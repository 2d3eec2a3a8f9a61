"""Put a saved profile or a custom plan on a Powerwall and hold it there (automations/holds.py):
until the household resumes live price sync, or for the hours it chose."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from automations.holds import HOLD_HOURS_CHOICES, household_hold_start
from tariffs.engine.custom_tou import schedule_from_dict
from tariffs.engine.tesla_format import TariffInvalid, render_custom_tariff
from tariffs.selectors import custom_schedules_for_user, tou_profiles_for_user
from web.views.common import request_user, site_or_404


def _small_int(raw: str) -> int | None:
    """A positive id or count typed as ASCII digits (``"²".isdigit()`` is True), else None."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 9:
        return int(raw)
    return None


def _hold(
    request: HttpRequest,
    *,
    content: dict[str, Any],
    name: str,
    source: str,
    source_id: int,
    back: str,
    **kw: Any,
) -> HttpResponse:
    site_id = _small_int(request.POST.get("site", ""))
    if site_id is None:
        messages.error(request, "Choose the site to put it on.")
        return redirect(back, **kw)
    raw_hours = request.POST.get("hours", "")
    hours = _small_int(raw_hours) if raw_hours else None
    if raw_hours and hours not in HOLD_HOURS_CHOICES:
        messages.error(request, "Choose how long to keep it on.")
        return redirect(back, **kw)
    site = site_or_404(request, site_id)
    if not site.tesla_energy_site_id or site.needs_reauthorisation:
        messages.error(request, "Connect this site's Powerwall first.")
        return redirect(back, **kw)
    try:
        household_hold_start(
            site=site,
            tariff_content=content,
            name=name,
            source=source,
            source_id=source_id,
            hours=hours,
            by=request_user(request).username,
        )
    except TariffInvalid as exc:
        messages.error(request, f"Tesla would refuse this tariff: {exc}")
        return redirect(back, **kw)
    held = f"for {hours} h" if hours else "until you resume price sync"
    messages.success(request, f"Putting {source} “{name}” on {site.name}, held {held}.")
    return redirect("web:dashboard", site_id=site.pk)


@login_required
@require_POST
def profile_push(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_object_or_404(tou_profiles_for_user(request.user), pk=profile_id)
    return _hold(
        request,
        content=profile.tariff_content,
        name=profile.name,
        source="profile",
        source_id=profile.pk,
        back="web:profile_detail",
        profile_id=profile.pk,
    )


@login_required
@require_POST
def schedule_push(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_object_or_404(custom_schedules_for_user(request.user), pk=schedule_id)
    return _hold(
        request,
        content=render_custom_tariff(schedule_from_dict(schedule.definition)),
        name=schedule.name,
        source="plan",
        source_id=schedule.pk,
        back="web:schedule_edit",
        schedule_id=schedule.pk,
    )
