"""Tesla Fleet API OAuth: the real TeslaOAuthClient and the token-refresh service against the
simulator's OAuth server (single-use refresh tokens, PKCE)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection
from django.utils import timezone

from credentials.models import SiteCredentials
from devices.clients import tesla_client_for
from devices.models import Site
from devices.providers.tesla import (
    ENERGY_SCOPES,
    AuthFailed,
    MissingScope,
    PartnerNotRegistered,
    TeslaEnergyClient,
    TeslaOAuthClient,
    TokenExpired,
    TokenSet,
    Unavailable,
    verify_state,
)
from devices.tokens import RefreshOutcome, tesla_tokens_refresh
from ops.devrun import simulator_environment
from simulator import SimulatorThread
from tests.factories import SiteFactory

from .conftest import Sim

pytestmark = pytest.mark.integration

REDIRECT_URI = "https://powersync.test/tesla/callback"


def oauth_client(
    sim: Sim, household: dict[str, Any], session: requests.Session
) -> TeslaOAuthClient:
    return TeslaOAuthClient(
        client_id=household["tesla_client_id"],
        client_secret=household["tesla_client_secret"],
        session=session,
        redirect_uri=REDIRECT_URI,
        authorize_url=f"{sim.urls['tesla_auth']}/oauth2/v3/authorize",
        token_url=f"{sim.urls['tesla_auth']}/oauth2/v3/token",
        audience=sim.urls["tesla_fleet"],
    )


def authorise(oauth: TeslaOAuthClient, session: requests.Session) -> TokenSet:
    """The household's browser trip: authorize URL -> redirect with code -> code exchange."""
    request = oauth.authorization_url()
    assert request.code_verifier is not None  # PKCE on by default
    reply = session.get(request.url, allow_redirects=False, timeout=10)
    assert reply.status_code == 302
    location = urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert verify_state(request.state, query["state"][0])
    (code,) = query["code"]
    assert code.startswith("NA_")  # the region prefix, as Tesla sends it
    return oauth.exchange_code(code, code_verifier=request.code_verifier)


def test_authorise_exchange_and_single_use_refresh(sim: Sim, session: requests.Session) -> None:
    household = sim.household(7)
    oauth = oauth_client(sim, household, session)

    tokens = authorise(oauth, session)
    assert tokens.refresh_token is not None
    assert set(ENERGY_SCOPES) <= set(tokens.scopes)
    now = dt.datetime.now(dt.UTC)
    assert now + dt.timedelta(hours=7) < tokens.expires_at <= now + dt.timedelta(hours=8)
    fleet = TeslaEnergyClient(
        access_token=tokens.access_token, session=session, base_url=sim.urls["tesla_fleet"]
    )
    assert [p.energy_site_id for p in fleet.products()] == [household["energy_site_id"]]

    refreshed = oauth.refresh(tokens.refresh_token)
    assert refreshed.refresh_token is not None
    assert refreshed.refresh_token != tokens.refresh_token
    assert refreshed.access_token != tokens.access_token
    with pytest.raises(AuthFailed) as caught:
        oauth.refresh(tokens.refresh_token)  # single-use: the old one is spent
    assert caught.value.error_code == "login_required"
    # The refreshed pair is the live one.
    assert oauth.refresh(refreshed.refresh_token).refresh_token is not None


def test_code_exchange_without_the_pkce_verifier_fails(sim: Sim, session: requests.Session) -> None:
    oauth = oauth_client(sim, sim.household(7), session)
    request = oauth.authorization_url()
    reply = session.get(request.url, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(reply.headers["Location"]).query)["code"][0]
    with pytest.raises(AuthFailed):
        oauth.exchange_code(code)


@pytest.fixture
def fleet_settings(sim: Sim, settings: Any) -> dict[str, Any]:
    """Django settings pointing every upstream at the simulator, OAuth as household 8's app."""
    household = sim.household(8)
    for name, value in simulator_environment(sim.root).items():
        setattr(settings, name, value)
    settings.TESLA_CLIENT_ID = household["tesla_client_id"]
    settings.TESLA_CLIENT_SECRET = household["tesla_client_secret"]
    settings.TESLA_REDIRECT_URI = REDIRECT_URI
    return household


@pytest.mark.django_db(transaction=True)
def test_concurrent_service_refreshes_one_wins_and_nobody_is_locked_out(
    sim: Sim, session: requests.Session, fleet_settings: dict[str, Any], fernet_keys: Any
) -> None:
    household = fleet_settings
    tokens = authorise(oauth_client(sim, household, session), session)
    assert tokens.refresh_token is not None
    site = SiteFactory.create(
        tesla_access=Site.TeslaAccess.FLEET,
        tesla_energy_site_id=str(household["energy_site_id"]),
    )
    SiteCredentials.objects.create(
        site=site,
        tesla_access_token=tokens.access_token,
        tesla_refresh_token=tokens.refresh_token,
        tesla_token_expires_at=timezone.now() + dt.timedelta(minutes=5),  # due for refresh
    )
    oauth_before = sim.control("GET", "/stats")["oauth"]
    # A slow token endpoint widens the window in which both callers are in flight.
    sim.control("POST", "/latency", {"tesla_auth_ms": 300})

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
        thread.join(timeout=30)

    # The second caller backs off at once instead of parking its worker thread on the lock.
    assert sorted(outcomes) == sorted([RefreshOutcome.REFRESHED, RefreshOutcome.BUSY])
    oauth_after = sim.control("GET", "/stats")["oauth"]
    assert oauth_after["refresh_ok"] - oauth_before["refresh_ok"] == 1  # one refresh reached Tesla
    assert oauth_after["refresh_reused"] == oauth_before["refresh_reused"]
    creds = SiteCredentials.objects.get(site=site)
    assert creds.tesla_refresh_token not in (None, tokens.refresh_token)
    assert creds.tesla_access_token != tokens.access_token
    assert creds.tesla_token_expires_at is not None
    assert creds.tesla_token_expires_at > timezone.now() + dt.timedelta(hours=7)
    site.refresh_from_db()
    assert site.needs_reauthorisation is False

    # Both callers now see the stored new pair, and it works against the Fleet API.
    client = tesla_client_for(site)
    assert client.base_url == sim.urls["tesla_fleet"]
    assert (
        client.site_info(household["energy_site_id"]).installation_time_zone
        == (household["time_zone"])
    )
    # No lockout: the stored refresh token is the live one, so the next refresh works too.
    assert tesla_tokens_refresh(site_id=site.pk, force=True) is RefreshOutcome.REFRESHED
    latest = SiteCredentials.objects.get(site=site)
    assert latest.tesla_refresh_token != creds.tesla_refresh_token
    site.refresh_from_db()
    assert site.needs_reauthorisation is False


def fleet_client(sim: Sim, tokens: TokenSet, session: requests.Session) -> TeslaEnergyClient:
    return TeslaEnergyClient(
        access_token=tokens.access_token, session=session, base_url=sim.urls["tesla_fleet"]
    )


def test_fleet_auth_errors_are_typed(sim: Sim, session: requests.Session) -> None:
    household = sim.household(6)
    site_id = household["energy_site_id"]
    oauth = oauth_client(sim, household, session)

    # A token granted without energy_cmds can read but not command: 403 -> MissingScope.
    request = oauth.authorization_url(scopes=("openid", "offline_access", "energy_device_data"))
    reply = session.get(request.url, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(reply.headers["Location"]).query)["code"][0]
    granted = oauth.exchange_code(code, code_verifier=request.code_verifier)
    read_only = fleet_client(sim, granted, session)
    read_only.live_status(site_id)
    with pytest.raises(MissingScope) as missing:
        read_only.set_operation_mode(site_id, "autonomous")
    assert missing.value.http_status == 403
    assert sim.tesla_history(site_id) == []  # refused before it reached the battery

    # A forged token -> AuthFailed; an expired one (bare 401) -> TokenExpired, fixed by a refresh.
    forged = TeslaEnergyClient(
        access_token="a.b.c", session=session, base_url=sim.urls["tesla_fleet"]
    )
    with pytest.raises(AuthFailed):
        forged.products()
    expiring = authorise(oauth, session)
    sim.control("POST", "/tesla/expire-tokens")
    with pytest.raises(TokenExpired) as expired:
        fleet_client(sim, expiring, session).site_info(site_id)
    assert expired.value.http_status == 401
    assert expiring.refresh_token is not None
    tokens = oauth.refresh(expiring.refresh_token)
    fleet_client(sim, tokens, session).site_info(site_id)

    # A gateway timeout upstream (the request hangs, then 504) -> Unavailable, retryable.
    sim.scenario("timeouts", hang_s=0.2, services=["tesla"])
    with pytest.raises(Unavailable) as unavailable:
        fleet_client(sim, tokens, session).products()
    assert unavailable.value.http_status == 504
    assert unavailable.value.retryable


def test_unregistered_partner_gets_412_until_the_domain_is_registered(
    session: requests.Session,
) -> None:
    with SimulatorThread(households=1, seed=3, speed=0, require_partner_registration=True) as other:
        urls = other.base_urls
        household = requests.get(f"{urls['control']}/households/1", timeout=10).json()
        registry = Sim(thread=other, urls=dict(urls), households=[household])
        oauth = oauth_client(registry, household, session)
        fleet = fleet_client(registry, authorise(oauth, session), session)
        with pytest.raises(PartnerNotRegistered) as caught:
            fleet.products()
        assert caught.value.http_status == 412

        partner = oauth.partner_token()
        assert partner.refresh_token is None
        account = oauth.register_partner_domain(
            partner_access_token=partner.access_token, domain="powersync.test"
        )
        assert account.domain == "powersync.test"
        assert [p.energy_site_id for p in fleet.products()] == [household["energy_site_id"]]
