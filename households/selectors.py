"""Reads scoped to the caller: every page and API endpoint reaches household data through these,
so nobody ever sees another household's objects (an id from elsewhere simply matches nothing)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from devices.models import Site
from households.models import Event, Household, Membership


def households_for_user(user: User | AnonymousUser) -> QuerySet[Household]:
    if not user.is_authenticated:
        return Household.objects.none()
    return Household.objects.filter(memberships__user=user).distinct()


def membership_for(user: User | AnonymousUser, household_id: int) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, household_id=household_id).first()


def sites_for_user(user: User | AnonymousUser) -> QuerySet[Site]:
    if not user.is_authenticated:
        return Site.objects.none()
    return Site.objects.filter(household__memberships__user=user).distinct()


def events_for_user(user: User | AnonymousUser) -> QuerySet[Event]:
    if not user.is_authenticated:
        return Event.objects.none()
    return Event.objects.filter(household__memberships__user=user).distinct()
