from __future__ import annotations

from dataclasses import dataclass

import pytest
import responses
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from devices.models import Site
from households.models import Household
from tests.factories import MembershipFactory, SiteFactory

PASSWORD = "a-Long-and-unusual-passphrase-42"


@pytest.fixture(autouse=True)
def _web_defaults(fernet_keys, settings):
    """Credentials can be saved; throttling counts start empty; provider URLs are fixed."""
    settings.AMBER_API_BASE_URL = "https://amber.test/v1"
    settings.TESLEMETRY_BASE_URL = "https://teslemetry.test"
    settings.TESLEMETRY_REGION_URL_TEMPLATE = "https://{region}.teslemetry.test"
    cache.clear()
    yield
    cache.clear()


@dataclass
class Household_:
    user: User
    household: Household
    site: Site
    client: Client


def _make(client: Client) -> Household_:
    membership = MembershipFactory.create()
    membership.user.set_password(PASSWORD)
    membership.user.save()
    site = SiteFactory.create(household=membership.household, name="Home")
    client.force_login(membership.user)
    return Household_(membership.user, membership.household, site, client)


@pytest.fixture
def mine(db) -> Household_:
    return _make(Client())


@pytest.fixture
def theirs(db) -> Household_:
    return _make(Client())


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
