from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from households import selectors
from households.services import event_record
from tests.factories import MembershipFactory, SiteFactory

pytestmark = pytest.mark.django_db


def test_each_user_sees_only_their_households_sites_and_events():
    mine = MembershipFactory.create()
    theirs = MembershipFactory.create()
    my_site = SiteFactory.create(household=mine.household)
    SiteFactory.create(household=theirs.household)
    event_record(household_id=theirs.household_id, automation="system", decision="x")
    mine_event = event_record(household_id=mine.household_id, automation="system", decision="y")

    assert list(selectors.households_for_user(mine.user)) == [mine.household]
    assert list(selectors.sites_for_user(mine.user)) == [my_site]
    assert list(selectors.events_for_user(mine.user)) == [mine_event]
    assert selectors.membership_for(mine.user, theirs.household_id) is None


def test_anonymous_sees_nothing():
    SiteFactory.create()
    anonymous = AnonymousUser()
    assert not selectors.households_for_user(anonymous).exists()
    assert not selectors.sites_for_user(anonymous).exists()
    assert not selectors.events_for_user(anonymous).exists()
