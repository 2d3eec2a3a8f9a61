"""Account pages: sign-up, login (throttled, optional TOTP step), second factor, household
members and invitations. Writes go through households.services and web.services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from devices.models import Site
from households.models import Household, Membership
from households.selectors import households_for_user, sites_for_user
from households.services import (
    InvitationInvalid,
    api_token_issue,
    api_token_revoke,
    invitation_accept,
    invitation_create,
    invitation_read,
    user_signup,
)
from web import throttle, totp
from web.forms.accounts import InviteForm, SignupForm, TotpCodeForm, TotpDisableForm
from web.models import TotpDevice
from web.services import totp_code_verify, totp_device_disable, totp_device_start, totp_enabled
from web.views.common import request_user

_PENDING_2FA = "web.pending_2fa"
_BACKEND = "django.contrib.auth.backends.ModelBackend"
THROTTLED_MESSAGE = (
    "Too many failed attempts for this account from your network. "
    "Wait 15 minutes, or reset your password."
)


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Sites overview; a household with one site goes straight to its dashboard."""
    sites = list(sites_for_user(request.user).order_by("name", "pk"))
    if not sites:
        return redirect("web:onboarding")
    if len(sites) == 1 and not request.GET.get("all"):
        return redirect("web:dashboard", site_id=sites[0].pk)
    return render(request, "web/home.html", {"sites": sites, "nav": "sites"})


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, _ = user_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            household_name=form.cleaned_data.get("household_name") or "",
        )
        login(request, user, backend=_BACKEND)
        messages.success(request, "Welcome to PowerSync. Let's connect your home.")
        return redirect(_safe_next(request, reverse("web:onboarding")))
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "web/accounts/signup.html",
        {"form": form, "next": request.GET.get("next", "")},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Username + password, throttled per username + IP; then a TOTP code if enabled."""
    if request.user.is_authenticated:
        return redirect("web:home")
    form = AuthenticationForm(request, data=request.POST or None)
    status = 200
    throttled = ""
    if request.method == "POST":
        username = request.POST.get("username", "")
        ip = throttle.client_ip(request)
        if throttle.login_blocked(username=username, ip=ip):
            form = AuthenticationForm(request, initial={"username": username})
            throttled = THROTTLED_MESSAGE
            status = 429
        elif form.is_valid():
            user = form.get_user()
            if totp_enabled(user=user):
                request.session[_PENDING_2FA] = {
                    "user_id": user.pk,
                    "next": _safe_next(request, ""),
                }
                return redirect("web:login_totp")
            throttle.login_succeeded(username=username, ip=ip)
            login(request, user, backend=_BACKEND)
            return redirect(_safe_next(request, reverse("web:home")))
        else:
            throttle.login_failed(username=username, ip=ip)
            if throttle.login_blocked(username=username, ip=ip):
                form = AuthenticationForm(request, initial={"username": username})
                throttled = THROTTLED_MESSAGE
                status = 429
            else:
                status = 400
    return render(
        request,
        "web/accounts/login.html",
        {"form": form, "next": request.GET.get("next", ""), "throttled": throttled},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def login_totp(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(_PENDING_2FA)
    if not pending:
        return redirect("web:login")
    user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    if user is None:
        request.session.pop(_PENDING_2FA, None)
        return redirect("web:login")
    ip = throttle.client_ip(request)
    form = TotpCodeForm(request.POST or None)
    status = 200
    throttled = ""
    if request.method == "POST":
        if throttle.login_blocked(username=user.username, ip=ip):
            form = TotpCodeForm()
            throttled = THROTTLED_MESSAGE
            status = 429
        elif form.is_valid() and totp_code_verify(user=user, code=form.cleaned_data["code"]):
            request.session.pop(_PENDING_2FA, None)
            throttle.login_succeeded(username=user.username, ip=ip)
            login(request, user, backend=_BACKEND)
            return redirect(pending.get("next") or reverse("web:home"))
        else:
            throttle.login_failed(username=user.username, ip=ip)
            if not form.errors:
                form.add_error("code", "That code is not right, or was already used.")
            status = 400
    return render(
        request,
        "web/accounts/login_totp.html",
        {"form": form, "throttled": throttled},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    """Turn the TOTP second factor on (start → confirm with a code) or off (with password)."""
    user = request_user(request)
    device = TotpDevice.objects.filter(user=user).first()
    code_form = TotpCodeForm()
    disable_form = TotpDisableForm(user=user)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "start":
            device = totp_device_start(user=user)
        elif action == "confirm" and device is not None and device.confirmed_at is None:
            code_form = TotpCodeForm(request.POST)
            if code_form.is_valid() and totp_code_verify(
                user=user, code=code_form.cleaned_data["code"]
            ):
                messages.success(request, "Two-step login is on.")
                return redirect("web:security")
            if not code_form.errors:
                code_form.add_error("code", "That code is not right. Check the phone's clock.")
            status = 400
        elif action == "token_issue":
            token = api_token_issue(user=user)
            # Shown once, on the next page only: the key is a password for the API.
            messages.success(request, f"Your new API token (copy it now): {token.key}")
            return redirect("web:security")
        elif action == "token_revoke":
            api_token_revoke(user=user)
            messages.success(request, "API token revoked: requests using it are now refused.")
            return redirect("web:security")
        elif action == "disable" and device is not None:
            disable_form = TotpDisableForm(request.POST, user=user)
            if disable_form.is_valid():
                totp_device_disable(user=user)
                messages.success(request, "Two-step login is off.")
                return redirect("web:security")
            status = 400
        else:
            status = 400
    context: dict[str, object] = {
        "nav": "security",
        "api_token_created": Token.objects.filter(user=user)
        .values_list("created", flat=True)
        .first(),
        "device": device,
        "code_form": code_form,
        "disable_form": disable_form,
    }
    if device is not None and device.confirmed_at is None:
        context["secret"] = device.secret  # shown only during enrolment, to the user themself
        context["otpauth_uri"] = totp.provisioning_uri(device.secret, account=user.username)
    return render(request, "web/accounts/security.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def household(request: HttpRequest) -> HttpResponse:
    """The user's households, their members and sites; owners can create invitation links."""
    user = request_user(request)
    households = list(households_for_user(user).order_by("pk"))
    memberships = {
        m.household_id: m for m in Membership.objects.filter(user=user, household__in=households)
    }
    invite_link = ""
    form = InviteForm()
    status = 200
    if request.method == "POST":
        try:
            household_id = int(request.POST.get("household", ""))
        except ValueError:
            household_id = 0
        target = next((h for h in households if h.pk == household_id), None)
        if target is None:
            return HttpResponse("Unknown household.", status=404)
        form = InviteForm(request.POST)
        if form.is_valid():
            try:
                token = invitation_create(
                    household_id=target.pk, invited_by=user, email=form.cleaned_data["email"]
                )
            except PermissionDenied:
                return HttpResponse("Only an owner of the household can invite.", status=403)
            invite_link = request.build_absolute_uri(reverse("web:invite_accept", args=[token]))
            messages.success(
                request, f"Invitation ready. Send this link to {form.cleaned_data['email']}."
            )
            form = InviteForm()
        else:
            status = 400
    rows = [
        {
            "household": h,
            "role": memberships[h.pk].role,
            "is_owner": memberships[h.pk].role == Membership.Role.OWNER,
            "members": Membership.objects.filter(household=h).select_related("user"),
            "sites": Site.objects.filter(household=h).order_by("name"),
        }
        for h in households
    ]
    return render(
        request,
        "web/accounts/household.html",
        {"nav": "household", "rows": rows, "form": form, "invite_link": invite_link},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_read(token=token)
    except InvitationInvalid as exc:
        return render(request, "web/accounts/invite.html", {"error": str(exc)}, status=400)
    household_obj = Household.objects.filter(pk=invitation.household_id).first()
    if household_obj is None:
        return render(
            request,
            "web/accounts/invite.html",
            {"error": "The household of this invitation no longer exists."},
            status=400,
        )
    inviter = User.objects.filter(pk=invitation.invited_by_id).first()
    context: dict[str, object] = {
        "invitation": invitation,
        "household_name": household_obj.name,
        "inviter": inviter.username if inviter else "",
        "here": request.get_full_path(),
    }
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(
                f"{reverse('web:login')}?{urlencode({'next': request.get_full_path()})}"
            )
        try:
            invitation_accept(token=token, user=request_user(request))
        except InvitationInvalid as exc:
            context["error"] = str(exc)
            return render(request, "web/accounts/invite.html", context, status=400)
        messages.success(request, f"You joined {household_obj.name}.")
        return redirect("web:home")
    return render(request, "web/accounts/invite.html", context)
