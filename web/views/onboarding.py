"""Onboarding, one step at a time: price source → Tesla access → energy site → sync on.

The Amber token typed in step 1 is needed again when the site is created in step 2; between the
two requests it sits in the session ENCRYPTED with the credentials key (sessions are stored in the
database in clear), and is removed as soon as the site exists.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from credentials import keys
from devices.models import Site
from devices.providers.tesla import verify_state
from devices.selectors import site_connection_status
from devices.services import (
    ConnectionCheckFailed,
    amber_token_verify,
    site_create,
    site_energy_site_set,
    site_settings_update,
    site_tesla_connect_fleet,
    site_tesla_connect_teslemetry,
    tesla_energy_sites_list,
    tesla_oauth_start,
    tesla_site_info,
)
from households.models import Household
from tariffs.selectors import custom_schedules_for_user
from web.forms.onboarding import (
    REGION_TIME_ZONE,
    AemoSourceForm,
    AmberSiteForm,
    AmberTokenForm,
    CustomSourceForm,
    EnergySiteForm,
    TeslemetryForm,
)
from web.views.common import current_household, request_user, site_or_404

_AMBER = "web.onboarding.amber"
_OAUTH = "web.onboarding.tesla_oauth"
_ENERGY_SITES = "web.onboarding.energy_sites"

STEPS = ("Price source", "Tesla", "Powerwall", "Sync on")


def _steps(current: int) -> list[dict[str, Any]]:
    return [
        {"label": label, "done": index < current, "current": index == current}
        for index, label in enumerate(STEPS)
    ]


def _household(request: HttpRequest) -> Household:
    household = current_household(request_user(request))
    if household is None:  # a user without a household (e.g. made in the admin) gets one
        from households.services import household_create

        household = household_create(
            name=f"{request_user(request).username}'s home", owner=request_user(request)
        )
    return household


def _validation_message(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    """The model's errors (one rule for the form and the API) under the form's own fields."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, _validation_message(exc))
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def start(request: HttpRequest) -> HttpResponse:
    """Step 1: where do prices come from?"""
    return render(request, "web/onboarding/start.html", {"steps": _steps(0), "nav": "sites"})


@login_required
@require_http_methods(["GET", "POST"])
def amber(request: HttpRequest) -> HttpResponse:
    """Step 1 (Amber): verify the token by listing its sites, then choose one."""
    pending = request.session.get(_AMBER)
    token_form = AmberTokenForm()
    site_form = AmberSiteForm(sites=pending["sites"]) if pending else None
    amber_error = ""
    status = 200
    if request.method == "POST" and request.POST.get("action") == "token":
        token_form = AmberTokenForm(request.POST)
        if token_form.is_valid():
            token = token_form.cleaned_data["token"].strip()
            try:
                sites = amber_token_verify(token=token)
            except ConnectionCheckFailed as exc:
                amber_error = exc.message
                request.session.pop(_AMBER, None)
                site_form = None
                status = 400
            else:
                pending = {
                    "token": keys.encrypt(token),
                    "sites": [
                        {"id": s.id, "nmi": s.nmi, "network": s.network, "status": s.status}
                        for s in sites
                    ],
                }
                request.session[_AMBER] = pending
                return redirect("web:onboarding_amber")
        else:
            status = 400
    elif request.method == "POST" and request.POST.get("action") == "site":
        if not pending:
            return redirect("web:onboarding_amber")
        site_form = AmberSiteForm(request.POST, sites=pending["sites"])
        if site_form.is_valid():
            chosen_id = site_form.cleaned_data["amber_site_id"]
            chosen = next(s for s in pending["sites"] if s["id"] == chosen_id)
            try:
                site = site_create(
                    household=_household(request),
                    name=site_form.cleaned_data["name"],
                    price_source=Site.PriceSource.AMBER,
                    amber_site_id=chosen["id"],
                    amber_token=keys.decrypt(pending["token"]),
                )
            except ValidationError as exc:
                site_form.add_error(None, _validation_message(exc))
                status = 400
            else:
                request.session.pop(_AMBER, None)
                messages.success(request, "Amber connected.")
                return redirect("web:site_connect", site_id=site.pk)
        else:
            status = 400
    elif request.method == "POST":
        status = 400
    context = {
        "steps": _steps(0),
        "nav": "sites",
        "token_form": token_form,
        "site_form": site_form,
        "amber_ok": bool(pending) and not amber_error,
        "amber_error": amber_error,
        "site_count": len(pending["sites"]) if pending else 0,
    }
    return render(request, "web/onboarding/amber.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def aemo(request: HttpRequest) -> HttpResponse:
    """Step 1 (Flow Power / AEMO wholesale): region, network and tariff code."""
    form = AemoSourceForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                site = site_create(
                    household=_household(request),
                    name=data["name"],
                    price_source=Site.PriceSource.AEMO,
                    aemo_region=data["aemo_region"],
                    aemo_network=data["aemo_network"],
                    aemo_tariff_code=data["aemo_tariff_code"],
                    time_zone=REGION_TIME_ZONE.get(data["aemo_region"], "Australia/Sydney"),
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                return redirect("web:site_connect", site_id=site.pk)
        status = 400
    return render(
        request,
        "web/onboarding/source_form.html",
        {"steps": _steps(0), "nav": "sites", "form": form, "title": "Flow Power / AEMO wholesale"},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def custom(request: HttpRequest) -> HttpResponse:
    """Step 1 (fixed TOU plan): pick one of the household's custom schedules."""
    schedules = custom_schedules_for_user(request.user).order_by("name")
    form = CustomSourceForm(request.POST or None, schedules=schedules)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                site = site_create(
                    household=data["custom_schedule"].household,
                    name=data["name"],
                    price_source=Site.PriceSource.CUSTOM,
                    custom_schedule_id=data["custom_schedule"].pk,
                    time_zone=data["time_zone"],
                )
            except ValidationError as exc:
                form.add_error(None, _validation_message(exc))
            else:
                return redirect("web:site_connect", site_id=site.pk)
        status = 400
    return render(
        request,
        "web/onboarding/source_form.html",
        {
            "steps": _steps(0),
            "nav": "sites",
            "form": form,
            "title": "Fixed time-of-use plan",
            "no_schedules": not schedules.exists(),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest, site_id: int) -> HttpResponse:
    """Step 2: Teslemetry key, or "Connect Tesla" (Fleet API OAuth)."""
    site = site_or_404(request, site_id)
    form = TeslemetryForm()
    tesla_error = ""
    status = 200
    if request.method == "POST":
        form = TeslemetryForm(request.POST)
        if form.is_valid():
            try:
                site_tesla_connect_teslemetry(site=site, api_key=form.cleaned_data["api_key"])
            except ConnectionCheckFailed as exc:
                tesla_error = exc.message
            else:
                messages.success(request, "Teslemetry connected.")
                return redirect("web:site_energy_site", site_id=site.pk)
        status = 400
    return render(
        request,
        "web/onboarding/connect.html",
        {
            "steps": _steps(1),
            "site": site,
            "page": "connect",
            "form": form,
            "tesla_error": tesla_error,
            "status": site_connection_status(site=site),
            "fleet_available": bool(settings.TESLA_CLIENT_ID),
        },
        status=status,
    )


@login_required
@require_POST
def tesla_oauth_begin(request: HttpRequest, site_id: int) -> HttpResponse:
    """Send the household to Tesla's consent page; ``state`` and the PKCE verifier stay here."""
    site = site_or_404(request, site_id)
    try:
        auth = tesla_oauth_start()
    except ConnectionCheckFailed as exc:
        messages.error(request, exc.message)
        return redirect("web:site_connect", site_id=site.pk)
    request.session[_OAUTH] = {
        "state": auth.state,
        "verifier": auth.code_verifier,
        "site_id": site.pk,
    }
    return redirect(auth.url)


@login_required
def tesla_oauth_callback(request: HttpRequest) -> HttpResponse:
    """Tesla sends the household back here: check ``state``, exchange the code, store tokens."""
    pending = request.session.pop(_OAUTH, None)
    if not pending or not verify_state(pending["state"], request.GET.get("state")):
        return render(
            request,
            "web/onboarding/oauth_error.html",
            {"error": "This Tesla sign-in did not start here or has expired. Try again."},
            status=400,
        )
    site = site_or_404(request, pending["site_id"])
    if request.GET.get("error") or not request.GET.get("code"):
        messages.error(request, "Tesla sign-in was cancelled or refused.")
        return redirect("web:site_connect", site_id=site.pk)
    try:
        site_tesla_connect_fleet(
            site=site, code=request.GET["code"], code_verifier=pending.get("verifier")
        )
    except ConnectionCheckFailed as exc:
        messages.error(request, exc.message)
        return redirect("web:site_connect", site_id=site.pk)
    messages.success(request, "Tesla connected.")
    return redirect("web:site_energy_site", site_id=site.pk)


@login_required
@require_http_methods(["GET", "POST"])
def energy_site(request: HttpRequest, site_id: int) -> HttpResponse:
    """Step 3: choose the Powerwall; its time zone comes from Tesla's site_info."""
    site = site_or_404(request, site_id)
    session_key = f"{_ENERGY_SITES}.{site.pk}"
    error = ""
    status = 200
    choices: list[tuple[str, str]] = request.session.get(session_key) or []
    if request.method == "GET" or not choices:
        try:
            products = tesla_energy_sites_list(site=site)
        except ConnectionCheckFailed as exc:
            error = exc.message
            products = []
            status = 502 if request.method == "GET" else 400
        choices = [
            (
                str(p.energy_site_id),
                f"{p.site_name or 'Energy site'} · {p.energy_site_id}"
                + (f" · {p.battery_percent:.0f} %" if p.battery_percent is not None else ""),
            )
            for p in products
        ]
        request.session[session_key] = choices
    form = EnergySiteForm(request.POST or None, choices=choices)
    if request.method == "POST" and not error:
        if form.is_valid():
            energy_site_id = form.cleaned_data["energy_site_id"]
            try:
                info = tesla_site_info(site=site, energy_site_id=int(energy_site_id))
                site_energy_site_set(
                    site=site,
                    energy_site_id=energy_site_id,
                    time_zone=info.installation_time_zone,
                )
            except ConnectionCheckFailed as exc:
                error = exc.message
            except ValidationError as exc:
                form.add_error(None, _validation_message(exc))
            else:
                request.session.pop(session_key, None)
                return redirect("web:site_finish", site_id=site.pk)
        status = 400
    return render(
        request,
        "web/onboarding/energy_site.html",
        {"steps": _steps(2), "site": site, "page": "connect", "form": form, "error": error},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def finish(request: HttpRequest, site_id: int) -> HttpResponse:
    """Step 4: every connection green → turn TOU sync on."""
    site = site_or_404(request, site_id)
    status = site_connection_status(site=site)
    if request.method == "POST":
        if not (status.price_source_ok and status.tesla_ok):
            messages.error(request, "Finish the red steps first.")
            return redirect("web:site_finish", site_id=site.pk)
        # Turning live price sync on queues the site's reconcile: live prices take the tariff.
        site_settings_update(site=site, changes={"tou_sync_enabled": True})
        messages.success(
            request, "Sync is on. PowerSync will keep your Powerwall's tariff current."
        )
        return redirect("web:dashboard", site_id=site.pk)
    return render(
        request,
        "web/onboarding/finish.html",
        {"steps": _steps(3), "site": site, "page": "connect", "status": status},
    )
