"""Writes of the households app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from households.models import Event, Household, Membership


@transaction.atomic
def household_create(*, name: str, owner: User) -> Household:
    household = Household.objects.create(name=name)
    Membership.objects.create(user=owner, household=household, role=Membership.Role.OWNER)
    return household


def event_record(
    *,
    household_id: int,
    automation: str,
    decision: str,
    reason: str = "",
    outcome: str = Event.Outcome.OK,
    site_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    return Event.objects.create(
        household_id=household_id,
        site_id=site_id,
        automation=automation,
        decision=decision[:200],
        reason=reason,
        outcome=outcome,
        data=data or {},
    )
