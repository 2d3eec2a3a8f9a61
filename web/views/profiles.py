"""Saved tariff profiles: list (with pre-spike backups), view, set default, delete, and "save
the tariff Tesla holds now" for a site."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from automations.holds import HOLD_HOURS_CHOICES
from devices.services import ConnectionCheckFailed
from households.selectors import sites_for_user
from tariffs.engine.bounds import text_problem
from tariffs.engine.tesla_format import TariffInvalid
from tariffs.models import TouProfile
from tariffs.selectors import tariff_half_hours, tou_profiles_for_user
from tariffs.services import tou_profile_delete, tou_profile_save_current, tou_profile_set_default
from web import charts
from web.views.common import pushable_sites, site_or_404


@login_required
@require_GET
def profile_list(request: HttpRequest) -> HttpResponse:
    profiles = tou_profiles_for_user(request.user).order_by("-created_at", "-pk")
    return render(
        request,
        "web/profiles/list.html",
        {
            "nav": "profiles",
            "backups": [p for p in profiles if p.kind == TouProfile.Kind.PRE_SPIKE],
            "saved": [p for p in profiles if p.kind != TouProfile.Kind.PRE_SPIKE],
            "sites": sites_for_user(request.user).exclude(tesla_energy_site_id="").order_by("name"),
        },
    )


@login_required
@require_GET
def profile_detail(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_object_or_404(tou_profiles_for_user(request.user), pk=profile_id)
    zone = profile.site.zone if profile.site else None
    today = timezone.localdate(timezone=zone) if zone else timezone.localdate()
    half_hours = tariff_half_hours(tariff_content=profile.tariff_content, local_date=today)
    chart = (
        charts.half_hour_bars(
            [h.buy_dollars_per_kwh for h in half_hours],
            [h.sell_dollars_per_kwh for h in half_hours],
            title=f"{profile.name}: buy and sell per half-hour",
        )
        if half_hours
        else None
    )
    return render(
        request,
        "web/profiles/detail.html",
        {
            "nav": "profiles",
            "profile": profile,
            "half_hours": half_hours,
            "chart": chart,
            "day": today,
            "display_zone": profile.site.time_zone if profile.site else "",
            "push_sites": pushable_sites(request),
            "hold_hours": HOLD_HOURS_CHOICES,
        },
    )


@login_required
@require_POST
def profile_set_default(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_object_or_404(tou_profiles_for_user(request.user), pk=profile_id)
    try:
        tou_profile_set_default(profile=profile)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("web:profiles")
    messages.success(request, f"“{profile.name}” is now the default for {profile.site}.")
    return redirect("web:profiles")


@login_required
@require_POST
def profile_delete(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_object_or_404(tou_profiles_for_user(request.user), pk=profile_id)
    tou_profile_delete(profile=profile)
    messages.success(request, "Profile deleted.")
    return redirect("web:profiles")


@login_required
@require_POST
def profile_save_current(request: HttpRequest, site_id: int) -> HttpResponse:
    """Read the tariff the Powerwall holds (one Tesla call) and keep it as a profile."""
    site = site_or_404(request, site_id)
    name = (request.POST.get("name") or "").strip() or (
        f"{site.name} tariff {timezone.localtime(timezone.now(), site.zone):%d %b %H:%M}"
    )
    if problem := text_problem(name):
        messages.error(request, f"The profile's name {problem}.")
        return redirect("web:profiles")
    try:
        profile = tou_profile_save_current(site=site, name=name)
    except ConnectionCheckFailed as exc:
        messages.error(request, exc.message)
        return redirect("web:profiles")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("web:profiles")
    except TariffInvalid:
        messages.error(request, "Tesla's current tariff could not be read.")
        return redirect("web:profiles")
    messages.success(request, f"Saved the Powerwall's current tariff as “{profile.name}”.")
    return redirect("web:profiles")
