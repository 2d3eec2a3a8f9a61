"""Tesla Fleet API OAuth: authorisation URL, token requests (exact form bodies), errors, secrecy."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from devices.providers.tesla import (
    AUTHORIZE_URL,
    FLEET_API_NA,
    TOKEN_URL,
    AuthFailed,
    InvalidResponse,
    PartnerNotRegistered,
    RateLimited,
    RequestRejected,
    TeslaError,
    TeslaOAuthClient,
    TokenSet,
    Unavailable,
    verify_state,
)

CLIENT_ID = "client-id-1"
CLIENT_SECRET = "client-SECRET-9d8e7f"
REDIRECT_URI = "https://app.example.com/tesla/callback"
CODE = "NA_code-SECRET-1a2b"
REFRESH = "refresh-SECRET-old"
NEW_REFRESH = "refresh-SECRET-new"
VERIFIER = "verifier-SECRET-5c6d"
NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def fake_jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


ACCESS = fake_jwt({"scp": ["openid", "offline_access", "energy_device_data", "energy_cmds"]})


def token_response(**overrides: Any) -> dict[str, Any]:
    body = {
        "access_token": ACCESS,
        "refresh_token": NEW_REFRESH,
        "id_token": "id-token",
        "expires_in": 28800,
        "token_type": "Bearer",
    }
    body.update(overrides)
    return body


def form_of(call: Any) -> dict[str, str]:
    parsed = parse_qs(call.request.body, strict_parsing=True)
    return {key: values[0] for key, values in parsed.items()}


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def oauth() -> TeslaOAuthClient:
    return TeslaOAuthClient(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        session=requests.Session(),
        redirect_uri=REDIRECT_URI,
        timeout=(2.0, 9.0),
        clock=lambda: NOW,
    )


# -------------------------------------------------------------- authorization URL


def test_authorization_url_has_state_scopes_and_pkce_challenge(oauth):
    request = oauth.authorization_url()

    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTHORIZE_URL
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    expected_challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(request.code_verifier.encode()).digest())
        .rstrip(b"=")
        .decode()
    )
    assert query == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid offline_access user_data energy_device_data energy_cmds",
        "state": request.state,
        "prompt_missing_scopes": "true",
        "code_challenge": expected_challenge,
        "code_challenge_method": "S256",
    }
    assert len(request.state) >= 32
    assert 43 <= len(request.code_verifier) <= 128
    assert request.code_verifier not in repr(request)


def test_each_authorization_url_has_fresh_state_and_verifier(oauth):
    first, second = oauth.authorization_url(), oauth.authorization_url()

    assert first.state != second.state
    assert first.code_verifier != second.code_verifier


def test_authorization_url_without_pkce_and_with_given_state(oauth):
    request = oauth.authorization_url(state="abc", use_pkce=False, scopes=["openid"])

    query = parse_qs(urlsplit(request.url).query)
    assert query["state"] == ["abc"]
    assert query["scope"] == ["openid"]
    assert "code_challenge" not in query
    assert request.code_verifier is None


def test_authorization_url_needs_a_redirect_uri():
    client = TeslaOAuthClient(client_id=CLIENT_ID, client_secret=None, session=requests.Session())

    with pytest.raises(ValueError, match="redirect_uri"):
        client.authorization_url()


def test_verify_state():
    assert verify_state("s1", "s1") is True
    assert verify_state("s1", "s2") is False
    assert verify_state("s1", None) is False
    assert verify_state("", "") is False


# ----------------------------------------------------------------- token requests


def test_exchange_code_form_body_and_token_set(rsps, oauth):
    rsps.post(TOKEN_URL, json=token_response())

    tokens = oauth.exchange_code(CODE, code_verifier="verifier-123")

    call = rsps.calls[0]
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.request.req_kwargs["timeout"] == (2.0, 9.0)
    assert "Authorization" not in call.request.headers
    assert form_of(call) == {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": CODE,
        "audience": FLEET_API_NA,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": "verifier-123",
    }
    assert tokens.access_token == ACCESS
    assert tokens.refresh_token == NEW_REFRESH
    assert tokens.expires_at == NOW + timedelta(hours=8)
    assert tokens.expires_at.tzinfo is UTC
    assert tokens.scopes == ("openid", "offline_access", "energy_device_data", "energy_cmds")


def test_refresh_form_body_and_new_pair(rsps, oauth):
    rsps.post(TOKEN_URL, json=token_response(scope="openid offline_access energy_cmds"))

    tokens = oauth.refresh(REFRESH)

    assert form_of(rsps.calls[0]) == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "refresh_token": REFRESH,
    }
    assert tokens.refresh_token == NEW_REFRESH  # single-use: the caller must store this one
    assert tokens.scopes == ("openid", "offline_access", "energy_cmds")  # "scope" wins over JWT
    assert tokens.expires_within(timedelta(minutes=5), now=NOW) is False
    assert tokens.expires_within(timedelta(hours=8), now=NOW) is True


def test_opaque_access_token_gives_no_scopes(rsps, oauth):
    rsps.post(TOKEN_URL, json=token_response(access_token="opaque"))

    assert oauth.refresh(REFRESH).scopes == ()


def test_partner_token_form_body(rsps, oauth):
    rsps.post(TOKEN_URL, json={"access_token": "partner-SECRET", "expires_in": 28800})

    tokens = oauth.partner_token()

    assert form_of(rsps.calls[0]) == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "audience": FLEET_API_NA,
        "scope": "openid user_data energy_device_data energy_cmds",
    }
    assert tokens.refresh_token is None
    assert tokens.access_token == "partner-SECRET"


def test_partner_token_needs_a_secret():
    client = TeslaOAuthClient(client_id=CLIENT_ID, client_secret=None, session=requests.Session())

    with pytest.raises(ValueError, match="client_secret"):
        client.partner_token()


def test_urls_and_audience_are_configurable(rsps):
    sim = "http://127.0.0.1:8765/tesla-auth"
    client = TeslaOAuthClient(
        client_id=CLIENT_ID,
        client_secret=None,
        session=requests.Session(),
        redirect_uri=REDIRECT_URI,
        authorize_url=f"{sim}/oauth2/v3/authorize",
        token_url=f"{sim}/oauth2/v3/token",
        audience="http://127.0.0.1:8765/fleet/",
    )
    rsps.post(f"{sim}/oauth2/v3/token", json=token_response())

    assert client.authorization_url().url.startswith(f"{sim}/oauth2/v3/authorize?")
    client.exchange_code(CODE)

    form = form_of(rsps.calls[0])
    assert form["audience"] == "http://127.0.0.1:8765/fleet"
    assert "client_secret" not in form
    assert "code_verifier" not in form


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"error": "login_required"}, AuthFailed),  # refresh token already used
        (400, {"error": "invalid_grant"}, AuthFailed),
        (400, {"error": "invalid_auth_code"}, AuthFailed),
        (400, {"error": "unauthorized_client"}, AuthFailed),
        (400, {"error": "invalid_request"}, RequestRejected),
        (429, {"error": "slow down"}, RateLimited),
        (500, None, Unavailable),
        (503, None, Unavailable),
    ],
)
def test_token_endpoint_errors(rsps, oauth, status, body, expected):
    rsps.post(TOKEN_URL, status=status, json=body)

    with pytest.raises(expected):
        oauth.refresh(REFRESH)


def test_token_endpoint_timeout(rsps, oauth):
    rsps.post(TOKEN_URL, body=requests.ReadTimeout("slow"))

    with pytest.raises(Unavailable):
        oauth.refresh(REFRESH)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps([1]),
        json.dumps({"refresh_token": NEW_REFRESH, "expires_in": 10}),
        json.dumps(token_response(expires_in="28800")),
        json.dumps(token_response(expires_in=0)),
        json.dumps(token_response(refresh_token=5)),
    ],
)
def test_malformed_token_response(rsps, oauth, body):
    rsps.post(TOKEN_URL, body=body)

    with pytest.raises(InvalidResponse) as caught:
        oauth.refresh(REFRESH)

    assert NEW_REFRESH not in str(caught.value)


# ---------------------------------------------------------- partner registration


def test_register_partner_domain(rsps, oauth):
    rsps.post(
        f"{FLEET_API_NA}/api/1/partner_accounts",
        json={"response": {"domain": "app.example.com", "client_id": CLIENT_ID}},
    )

    account = oauth.register_partner_domain(
        partner_access_token="partner-SECRET", domain="App.Example.com"
    )

    call = rsps.calls[0]
    assert json.loads(call.request.body) == {"domain": "app.example.com"}
    assert call.request.headers["Authorization"] == "Bearer partner-SECRET"
    assert call.request.headers["Content-Type"] == "application/json"
    assert (account.domain, account.client_id, account.public_key_hex) == (
        "app.example.com",
        CLIENT_ID,
        None,
    )


def test_register_partner_domain_in_another_region(rsps, oauth):
    eu = "https://fleet-api.prd.eu.vn.cloud.tesla.com"
    rsps.post(f"{eu}/api/1/partner_accounts", status=412, json={"error": "key not found"})

    with pytest.raises(PartnerNotRegistered):
        oauth.register_partner_domain(
            partner_access_token="p", domain="app.example.com", fleet_base_url=eu
        )


@pytest.mark.parametrize(
    "domain", ["https://app.example.com", "app.example.com/path", "localhost", "", "a b.com"]
)
def test_register_partner_domain_needs_a_bare_host(rsps, oauth, domain):
    with pytest.raises(ValueError, match="domain"):
        oauth.register_partner_domain(partner_access_token="p", domain=domain)
    assert len(rsps.calls) == 0


# ------------------------------------------------------------------------ secrecy


def test_no_secret_in_logs_errors_or_reprs(rsps, oauth, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = [CLIENT_SECRET, CODE, REFRESH, NEW_REFRESH, ACCESS, VERIFIER]
    # Tesla's error text could echo what the request carried: each answer quotes it back.
    refresh_echo = {"error": "invalid_grant", "error_description": f"{REFRESH} {CLIENT_SECRET}"}
    code_echo = {
        "error": f"invalid_auth_code {CODE}",
        "error_description": f"{CODE} {VERIFIER} {CLIENT_SECRET}",
    }
    rsps.post(TOKEN_URL, json=token_response())
    rsps.post(TOKEN_URL, status=400, json=refresh_echo)
    rsps.post(TOKEN_URL, status=400, json=code_echo)
    rsps.post(TOKEN_URL, body=requests.ConnectionError(f"reset {REFRESH}"))

    tokens = oauth.exchange_code(CODE, code_verifier=VERIFIER)
    errors: list[TeslaError] = []
    for call in (
        lambda: oauth.refresh(REFRESH),
        lambda: oauth.exchange_code(CODE, code_verifier=VERIFIER),
        lambda: oauth.refresh(REFRESH),
    ):
        with pytest.raises(TeslaError) as caught:
            call()
        errors.append(caught.value)

    assert isinstance(tokens, TokenSet)
    shown = [caplog.text, repr(tokens), repr(oauth), str(tokens)]
    for error in errors:
        shown += [str(error), repr(error), "".join(traceback.format_exception(error))]
    for secret in secrets:
        for text in shown:
            assert secret not in text
