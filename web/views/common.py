"""Helpers every page uses to reach household data through the scoped selectors."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from devices.models import Site
from households.models import Household, Membership
from households.selectors import sites_for_user


def request_user(request: HttpRequest) -> User:
    """The logged-in user (views using this are behind ``login_required``)."""
    user = request.user
    assert isinstance(user, User)
    return user


def site_or_404(request: HttpRequest, site_id: int) -> Site:
    """The caller's site, or 404: another household's id matches nothing."""
    return get_object_or_404(sites_for_user(request.user).select_related("household"), pk=site_id)


def current_household(user: User) -> Household | None:
    """The household new sites are added to: the one the user owns first, else the first joined."""
    membership = (
        Membership.objects.filter(user=user)
        .select_related("household")
        .order_by("-role", "created_at", "pk")  # "owner" sorts before "member" descending
        .first()
    )
    if membership is None:
        return None
    return membership.household


def pushable_sites(request: HttpRequest) -> list[Site]:
    """The caller's sites a tariff can be pushed to (a Powerwall connected, Tesla authorised)."""
    return list(
        sites_for_user(request.user)
        .exclude(tesla_energy_site_id="")
        .filter(needs_reauthorisation=False)
        .order_by("name")
    )
