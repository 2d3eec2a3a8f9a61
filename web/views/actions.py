"""Buttons that ask the automations to act now: sync, force discharge (start and stop) and
"resume price sync" after a hold. The services set intents and queue the site's reconcile after
the request's transaction commits; the page only reports that the request was taken."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from automations import dispatch
from automations.force_discharge import (
    DURATIONS_MINUTES,
    force_discharge_start,
    force_discharge_stop,
)
from automations.holds import household_hold_end
from households.models import Event
from households.services import event_record
from tariffs.models import TariffPush
from web.views.common import request_user, site_or_404


@login_required
@require_POST
def sync_now(request: HttpRequest, site_id: int) -> HttpResponse:
    site = site_or_404(request, site_id)
    if not site.tesla_energy_site_id or site.needs_reauthorisation:
        messages.error(request, "Connect the Powerwall before syncing.")
        return redirect("web:dashboard", site_id=site.pk)
    dispatch.sync(site.pk, reason=TariffPush.Reason.MANUAL)
    event_record(
        household_id=site.household_id,
        site_id=site.pk,
        automation=Event.Automation.TOU_SYNC,
        intent="routine",
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
    force_discharge_start(site=site, minutes=minutes)
    messages.success(request, f"Force discharge for {minutes} minutes requested.")
    return redirect("web:dashboard", site_id=site.pk)


@login_required
@require_POST
def force_discharge_end(request: HttpRequest, site_id: int) -> HttpResponse:
    """Stop a force discharge now; the Powerwall goes back to what waits behind it."""
    site = site_or_404(request, site_id)
    if force_discharge_stop(site=site):
        messages.success(request, "Stopping the force discharge.")
    else:
        messages.info(request, "No force discharge was running.")
    return redirect("web:dashboard", site_id=site.pk)


@login_required
@require_POST
def resume_sync(request: HttpRequest, site_id: int) -> HttpResponse:
    """End the household's hold: live prices take the tariff again, built from fresh prices."""
    site = site_or_404(request, site_id)
    if household_hold_end(site=site, by=request_user(request).username):
        what = "Live price sync takes over again" if site.tou_sync_enabled else "Hold ended"
        messages.success(request, f"{what}.")
    else:
        messages.info(request, "Nothing was held on this Powerwall.")
    return redirect("web:dashboard", site_id=site.pk)
