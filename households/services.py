"""Writes of the households app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from rest_framework.authtoken.models import Token

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
    intent: str = "",
) -> Event:
    """``intent``: the intent (automations.models.IntentKind) the decision was made for."""
    return Event.objects.create(
        household_id=household_id,
        site_id=site_id,
        automation=automation,
        decision=decision[:200],
        reason=reason,
        outcome=outcome,
        data=data or {},
        intent=intent,
    )


# --- sign-up and invitations ------------------------------------------------------------------

INVITATION_MAX_AGE_S = 7 * 24 * 3600
_INVITATION_SALT = "households.invitation"


class InvitationInvalid(Exception):
    """The invitation link is forged, expired, or meant for someone else; the message says which."""


@dataclass(frozen=True)
class Invitation:
    """What a signed invitation token says: who may join which household, and who asked."""

    household_id: int
    email: str
    invited_by_id: int


@transaction.atomic
def user_signup(
    *, username: str, email: str, password: str, household_name: str = ""
) -> tuple[User, Household]:
    """Create a user and their own household, with the user as its owner.

    The password must already have passed Django's validators (the sign-up form does that).
    ``household_name`` defaults to "<username>'s home".
    """
    user = User.objects.create_user(username=username, email=email, password=password)
    household = household_create(name=household_name.strip() or f"{username}'s home", owner=user)
    return user, household


def invitation_create(*, household_id: int, invited_by: User, email: str) -> str:
    """A signed, expiring (7 days) invitation token for ``email`` to join the household.

    Only an owner of the household may invite. Nothing is stored: the token carries the household,
    the invitee's e-mail and the inviter, signed with SECRET_KEY.

    Raises:
        PermissionDenied: ``invited_by`` is not an owner of the household.
    """
    is_owner = Membership.objects.filter(
        user=invited_by, household_id=household_id, role=Membership.Role.OWNER
    ).exists()
    if not is_owner:
        raise PermissionDenied("only an owner of the household can invite members")
    payload = {"h": household_id, "e": email.strip().lower(), "by": invited_by.pk}
    return signing.dumps(payload, salt=_INVITATION_SALT, compress=True)


def invitation_read(*, token: str) -> Invitation:
    """Check an invitation token's signature and age.

    Raises:
        InvitationInvalid: forged, malformed or older than 7 days.
    """
    try:
        payload = signing.loads(token, salt=_INVITATION_SALT, max_age=INVITATION_MAX_AGE_S)
    except signing.SignatureExpired as exc:
        raise InvitationInvalid("This invitation has expired; ask for a new one.") from exc
    except signing.BadSignature as exc:
        raise InvitationInvalid("This invitation link is not valid.") from exc
    try:
        return Invitation(
            household_id=int(payload["h"]),
            email=str(payload["e"]),
            invited_by_id=int(payload["by"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvitationInvalid("This invitation link is not valid.") from exc


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """Join the invited household as a member. Idempotent: accepting twice keeps one membership
    (and never downgrades an owner).

    Raises:
        InvitationInvalid: bad/expired token, the household is gone, or ``user``'s e-mail is not
            the invited one.
    """
    invitation = invitation_read(token=token)
    if user.email.strip().lower() != invitation.email:
        raise InvitationInvalid(
            "This invitation was sent to another e-mail address; sign in with that account."
        )
    if not Household.objects.filter(pk=invitation.household_id).exists():
        raise InvitationInvalid("The household of this invitation no longer exists.")
    membership, _ = Membership.objects.get_or_create(
        user=user,
        household_id=invitation.household_id,
        defaults={"role": Membership.Role.MEMBER},
    )
    return membership


# --- API tokens -------------------------------------------------------------------------------


@transaction.atomic
def api_token_issue(*, user: User) -> Token:
    """A new REST API token for ``user``; any older one stops working (one token per user).

    The key is stored as DRF's authtoken stores it; show it to the user once, at issue.
    """
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def api_token_revoke(*, user: User) -> None:
    """Revoke the user's API token, if any (idempotent)."""
    Token.objects.filter(user=user).delete()
