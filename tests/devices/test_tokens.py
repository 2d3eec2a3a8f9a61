"""Tesla refresh tokens are single-use: concurrent refreshes for one site must not lock it out."""

from __future__ import annotations

import datetime as dt
import threading
import time
from urllib.parse import parse_qs

import pytest
import responses
from django.db import connection
from django.utils import timezone

from credentials.models import SiteCredentials
from devices.models import Site
from devices.tokens import RefreshOutcome, tesla_tokens_refresh
from households.models import Event
from tests.factories import SiteFactory

TOKEN_URL = "https://auth.test/oauth2/v3/token"


@pytest.fixture
def oauth_settings(settings):
    settings.TESLA_CLIENT_ID = "client-id"
    settings.TESLA_CLIENT_SECRET = "client-secret"
    settings.TESLA_TOKEN_URL = TOKEN_URL
    return settings


class SingleUseTokenServer:
    """Tesla's token endpoint: each refresh token works once and yields the next one."""

    def __init__(self, first: str) -> None:
        self.valid = {first}
        self.calls = 0
        self.generation = 1
        self.lock = threading.Lock()

    def __call__(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        time.sleep(0.2)  # a slow upstream widens the race window
        with self.lock:
            self.calls += 1
            token = form.get("refresh_token")
            if form.get("grant_type") != "refresh_token" or token not in self.valid:
                return (401, {}, '{"error": "invalid_grant", "error_description": "used"}')
            self.valid.discard(token)
            self.generation += 1
            new = f"refresh-{self.generation}"
            self.valid.add(new)
            body = (
                f'{{"access_token": "access-{self.generation}", "refresh_token": "{new}", '
                '"expires_in": 28800, "token_type": "Bearer"}'
            )
            return (200, {"Content-Type": "application/json"}, body)


def fleet_site(expires_in: dt.timedelta) -> Site:
    site = SiteFactory.create(tesla_access=Site.TeslaAccess.FLEET)
    SiteCredentials.objects.create(
        site=site,
        tesla_access_token="access-1",
        tesla_refresh_token="refresh-1",
        tesla_token_expires_at=timezone.now() + expires_in,
    )
    return site


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_two_concurrent_refreshes_one_wins_and_nobody_is_locked_out(oauth_settings, fernet_keys):
    site = fleet_site(expires_in=dt.timedelta(minutes=1))
    server = SingleUseTokenServer("refresh-1")
    responses.add_callback(responses.POST, TOKEN_URL, callback=server)

    outcomes: list[RefreshOutcome] = []
    barrier = threading.Barrier(2)

    def refresh() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(tesla_tokens_refresh(site_id=site.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # The second caller does not wait for the first (a worker thread freed, not parked).
    assert sorted(outcomes) == sorted([RefreshOutcome.REFRESHED, RefreshOutcome.BUSY])
    assert server.calls == 1
    creds = SiteCredentials.objects.get(site=site)
    assert (creds.tesla_access_token, creds.tesla_refresh_token) == ("access-2", "refresh-2")
    assert creds.tesla_token_expires_at is not None
    assert creds.tesla_token_expires_at > timezone.now() + dt.timedelta(hours=7)
    site.refresh_from_db()
    assert site.needs_reauthorisation is False
    # The stored refresh token is the live one: a later refresh still works.
    assert tesla_tokens_refresh(site_id=site.pk, force=True) == RefreshOutcome.REFRESHED
    assert SiteCredentials.objects.get(site=site).tesla_refresh_token == "refresh-3"


@pytest.mark.django_db
@responses.activate
def test_fresh_tokens_are_left_alone(oauth_settings, fernet_keys):
    site = fleet_site(expires_in=dt.timedelta(hours=2))
    assert tesla_tokens_refresh(site_id=site.pk) == RefreshOutcome.STILL_FRESH
    assert len(responses.calls) == 0


@pytest.mark.django_db
@responses.activate
def test_refused_refresh_pauses_the_site_and_tells_the_household(oauth_settings, fernet_keys):
    site = fleet_site(expires_in=dt.timedelta(minutes=-5))
    responses.add(responses.POST, TOKEN_URL, status=401, json={"error": "invalid_grant"})
    assert tesla_tokens_refresh(site_id=site.pk) == RefreshOutcome.NEEDS_REAUTHORISATION
    site.refresh_from_db()
    assert site.needs_reauthorisation is True
    event = Event.objects.get(site=site)
    assert event.outcome == Event.Outcome.FAILED
    assert "connect Tesla again" in event.reason
    creds = SiteCredentials.objects.get(site=site)
    assert creds.tesla_refresh_token == "refresh-1"  # nothing overwritten on failure


@pytest.mark.django_db
@responses.activate
def test_upstream_outage_keeps_the_tokens_and_raises_for_retry(oauth_settings, fernet_keys):
    from devices.providers.tesla import Unavailable

    site = fleet_site(expires_in=dt.timedelta(minutes=-5))
    responses.add(responses.POST, TOKEN_URL, status=503)
    with pytest.raises(Unavailable):
        tesla_tokens_refresh(site_id=site.pk)
    creds = SiteCredentials.objects.get(site=site)
    assert (creds.tesla_access_token, creds.tesla_refresh_token) == ("access-1", "refresh-1")
    site.refresh_from_db()
    assert site.needs_reauthorisation is False
