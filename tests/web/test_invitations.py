from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from households.models import Membership
from households.services import invitation_create
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _link_from(response) -> str:
    content = response.content.decode()
    start = content.index('id="invite-link">') + len('id="invite-link">')
    return content[start : content.index("<", start)]


def test_owner_invites_and_the_invitee_joins_as_member(mine):
    response = mine.client.post(
        reverse("web:household"), {"household": mine.household.pk, "email": "kim@example.com"}
    )
    assert response.status_code == 200
    link = _link_from(response)
    path = link.split("testserver", 1)[1]

    invitee = UserFactory.create(email="Kim@Example.com")
    client = Client()
    assert client.get(path).status_code == 200  # anonymous: shows sign up / log in
    client.force_login(invitee)
    assert client.post(path).status_code == 302

    membership = Membership.objects.get(user=invitee, household=mine.household)
    assert membership.role == Membership.Role.MEMBER
    assert client.get(reverse("web:dashboard", args=[mine.site.pk])).status_code == 200


def test_an_invitation_for_someone_else_is_refused(mine):
    token = invitation_create(
        household_id=mine.household.pk, invited_by=mine.user, email="kim@example.com"
    )
    stranger = UserFactory.create(email="eve@example.com")
    client = Client()
    client.force_login(stranger)

    response = client.post(reverse("web:invite_accept", args=[token]))

    assert response.status_code == 400
    assert not Membership.objects.filter(user=stranger).exists()


def test_a_forged_or_tampered_token_is_refused(mine):
    forged = signing.dumps(
        {"h": mine.household.pk, "e": "eve@example.com", "by": 1}, salt="something-else"
    )
    eve = UserFactory.create(email="eve@example.com")
    client = Client()
    client.force_login(eve)

    assert client.post(reverse("web:invite_accept", args=[forged])).status_code == 400
    assert client.get(reverse("web:invite_accept", args=["garbage"])).status_code == 400
    assert not Membership.objects.filter(user=eve).exists()


def test_only_owners_can_invite_and_only_to_their_household(mine, theirs):
    member = MembershipFactory.create(household=mine.household, role=Membership.Role.MEMBER)
    client = Client()
    client.force_login(member.user)
    forbidden = client.post(
        reverse("web:household"), {"household": mine.household.pk, "email": "x@example.com"}
    )
    assert forbidden.status_code == 403

    other = mine.client.post(
        reverse("web:household"), {"household": theirs.household.pk, "email": "x@example.com"}
    )
    assert other.status_code == 404
