"""Who may use the API: an authenticated user acting inside a household they belong to."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from households.models import Household
from households.selectors import membership_for


class IsHouseholdMember(BasePermission):
    """Authenticated, and a member of the household that owns the object.

    Objects already come from the caller's scoped selectors (another household's id is a 404
    before this runs); the object check is a second lock on the same door.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if isinstance(obj, Household):
            household_id = obj.pk
        elif hasattr(obj, "household_id"):
            household_id = obj.household_id
        else:  # objects of a site (pushes, samples, peaks)
            household_id = obj.site.household_id
        return household_id is not None and membership_for(request.user, household_id) is not None
