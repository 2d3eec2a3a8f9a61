"""Buttons that ask the automations to act now. The services behind them queue Celery work after
the request's transaction commits; the page only reports that the request was taken."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from devices.force_discharge import (
    DURATIONS_MINUTES,
    force_discharge_start,
    force_discharge_stop,
)
from households.models import Event
from households.services import event_record
from tariffs.models import TariffPush
from tariffs.sync import site_sync_request
from web.views.common import request_user, site_or_404


@login_required
@require_POST
def sync_now(request: HttpRequest, site_id: int) -> HttpResponse:
    site = site_or_404(request, site_id)
    if not site.tesla_energy_site_id or site.needs_reauthorisation:
        messages.error(request, "Connect the Powerwall before syncing.")
        return redirect("web:dashboard", site_id=site.pk)
    site_sync_request(site_id=site.pk, reason=TariffPush.Reason.MANUAL)
    event_record(
        household_id=site.household_id,
        site_id=site.pk,
        automation=Event.Automation.TOU_SYNC,
        decision="Sync requested from the dashboard",
        reason=f"Asked by {request_user(request).username}",
    )
    messages.success(request, "Sync requested. The tariff updates within a minute if it changed.")
    return redirect("web:dashboard", site_id=site.pk)


@login_required
@require_POST
def force_discharge(request: HttpRequest, site_id: int) -> HttpResponse:
    """Make the Powerwall export for 15-120 minutes (then it is handed back automatically)."""
    site = site_or_404(request, site_id)
    try:
        minutes = int(request.POST.get("minutes", ""))
    except ValueError:
        minutes = 0
    if minutes not in DURATIONS_MINUTES:
        choices = ", ".join(map(str, DURATIONS_MINUTES))
        return HttpResponse(f"Choose a duration of {choices} minutes.", status=400)
    if not site.tesla_energy_site_id or site.needs_reauthorisation:
        messages.error(request, "Connect the Powerwall first.")
        return redirect("web:dashboard", site_id=site.pk)
    force_discharge_start(site_id=site.pk, minutes=minutes)
    messages.success(request, f"Force discharge for {minutes} minutes requested.")
    return redirect("web:dashboard", site_id=site.pk)


@login_required
@require_POST
def force_discharge_end(request: HttpRequest, site_id: int) -> HttpResponse:
    """Stop a force discharge now and restore the Powerwall's previous tariff and settings."""
    site = site_or_404(request, site_id)
    force_discharge_stop(site_id=site.pk)
    messages.success(request, "Stopping the force discharge and restoring your settings.")
    return redirect("web:dashboard", site_id=site.pk)
