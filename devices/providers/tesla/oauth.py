"""Tesla Fleet API OAuth 2: authorisation URL, code exchange, refresh, partner token and
partner domain registration. Framework-free, like the energy client.

Refresh tokens are SINGLE-USE (Tesla docs, third-party tokens): every refresh returns a new refresh
token and the old one stops working. The caller must

1. allow only one refresh per site at a time (a per-site lock), and
2. persist the new access *and* refresh token together, atomically, before anything else can
   fail -- otherwise the site is locked out and the household has to reconnect.

A refresh that fails with ``AuthFailed`` (``login_required``/``invalid_grant``) means the stored
refresh token is spent or revoked: no retry can help.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests

from . import _parse
from ._http import DEFAULT_TIMEOUT_S, send
from .client import FLEET_API_NA
from .errors import InvalidResponse
from .models import PartnerAccount

AUTHORIZE_URL = "https://auth.tesla.com/oauth2/v3/authorize"
TOKEN_URL = "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token"

#: What PowerSync asks a household for. ``openid offline_access`` is needed to get a refresh
#: token; ``user_data`` lets us call ``/users/region``; the energy scopes read and command sites.
ENERGY_SCOPES: tuple[str, ...] = (
    "openid",
    "offline_access",
    "user_data",
    "energy_device_data",
    "energy_cmds",
)
#: Scopes for the partner (client_credentials) token used to register our domain.
PARTNER_SCOPES: tuple[str, ...] = ("openid", "user_data", "energy_device_data", "energy_cmds")

_DOMAIN_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuthorizationRequest:
    """An authorisation URL plus what the callback must check and send back.

    Store ``state`` and ``code_verifier`` server-side (session), compare ``state`` on the
    callback with ``verify_state``, and pass ``code_verifier`` to ``exchange_code``.
    """

    url: str
    state: str
    code_verifier: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TokenSet:
    """Tokens from Tesla's token endpoint. Tokens are hidden from ``repr``.

    Attributes:
        expires_at: Aware UTC moment the access token expires (issued-at + ``expires_in``).
        refresh_token: None for partner (client_credentials) tokens.
        scopes: Granted scopes, from the ``scope`` field or else the JWT ``scp`` claim.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scopes: tuple[str, ...] = ()

    def expires_within(self, margin: timedelta, *, now: datetime) -> bool:
        """True if the access token expires before ``now + margin`` (refresh it then)."""
        return self.expires_at <= now + margin


def new_state() -> str:
    """An unguessable ``state`` value (256 bits)."""
    return secrets.token_urlsafe(32)


def new_pkce_pair() -> tuple[str, str]:
    """Return ``(code_verifier, code_challenge)`` for PKCE S256 (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(64)  # 86 characters, inside the 43..128 the RFC allows
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def verify_state(expected: str, received: str | None) -> bool:
    """Constant-time comparison of the stored and returned ``state``."""
    if not expected or not received:
        return False
    return hmac.compare_digest(expected.encode(), received.encode())


class TeslaOAuthClient:
    """Talks to Tesla's OAuth server (and registers the partner domain on the Fleet API).

    Args:
        client_id, client_secret: The application's credentials from developer.tesla.com.
            ``client_secret`` may be None for an "open source" app (PKCE only).
        redirect_uri: Registered callback URL; needed for the user flow, not for partner tokens.
        authorize_url, token_url: Overridable for the simulator or the China region.
        audience: Fleet API base URL the tokens are for (``FLEET_API_NA`` for Australia).
        clock: Returns the current aware UTC time; tests inject a fixed one.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | None,
        session: requests.Session,
        redirect_uri: str | None = None,
        authorize_url: str = AUTHORIZE_URL,
        token_url: str = TOKEN_URL,
        audience: str = FLEET_API_NA,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT_S,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not client_id:
            raise ValueError("client_id is empty")
        self.client_id = client_id
        self._client_secret = client_secret
        self._session = session
        self.redirect_uri = redirect_uri
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.audience = audience.rstrip("/")
        self.timeout = timeout
        self._clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, token_url={self.token_url!r})"

    def authorization_url(
        self,
        *,
        scopes: Iterable[str] = ENERGY_SCOPES,
        state: str | None = None,
        use_pkce: bool = True,
        prompt_missing_scopes: bool = True,
    ) -> AuthorizationRequest:
        """Build the URL that sends the household to Tesla's consent page.

        PKCE: external_apis.md §2.2 lists no PKCE parameters for this (confidential client)
        flow -- only ``state`` (required) and an optional ``nonce``. Tesla's "Open Source Tokens"
        page requires PKCE S256 on the same ``/oauth2/v3/authorize`` endpoint, so the server
        implements it. We send it by default as defence in depth against a stolen code (as
        RFC 9700 recommends for every client); ``use_pkce=False`` leaves it out if Tesla ever
        rejects it for confidential clients.
        """
        redirect_uri = self._require_redirect_uri()
        scope_list = list(scopes)
        if not scope_list:
            raise ValueError("scopes is empty")
        state = state or new_state()
        query: dict[str, str] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scope_list),
            "state": state,
            "prompt_missing_scopes": "true" if prompt_missing_scopes else "false",
        }
        verifier: str | None = None
        if use_pkce:
            verifier, challenge = new_pkce_pair()
            query["code_challenge"] = challenge
            query["code_challenge_method"] = "S256"
        return AuthorizationRequest(
            url=f"{self.authorize_url}?{urlencode(query)}", state=state, code_verifier=verifier
        )

    def exchange_code(self, code: str, *, code_verifier: str | None = None) -> TokenSet:
        """Trade the callback's ``code`` for tokens (``grant_type=authorization_code``).

        Raises:
            AuthFailed: the code expired or was used (``invalid_auth_code``/``invalid_grant``),
                or the client credentials are wrong.
        """
        if not code:
            raise ValueError("code is empty")
        form = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "code": code,
            "audience": self.audience,
            "redirect_uri": self._require_redirect_uri(),
        }
        if self._client_secret:
            form["client_secret"] = self._client_secret
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token_request(form, extra_secrets=(code, code_verifier or ""))

    def refresh(self, refresh_token: str) -> TokenSet:
        """Swap a refresh token for a new access token *and a new refresh token*.

        The old refresh token is dead once Tesla answers: persist the returned pair atomically
        (under the site's refresh lock) before doing anything else. See the module docstring.

        Raises:
            AuthFailed: the refresh token was already used, expired (3 months) or revoked.
            Unavailable, RateLimited: transient. After a timeout Tesla may already have spent the
                token; retry once with the same token, still under the lock. If that answers
                ``AuthFailed``, the household has to reconnect.
        """
        if not refresh_token:
            raise ValueError("refresh_token is empty")
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "refresh_token": refresh_token,
        }
        return self._token_request(form, extra_secrets=(refresh_token,))

    def partner_token(self, *, scopes: Iterable[str] = PARTNER_SCOPES) -> TokenSet:
        """Partner authentication token (``grant_type=client_credentials``); no refresh token."""
        if not self._client_secret:
            raise ValueError("a client_secret is needed for a partner token")
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "audience": self.audience,
            "scope": " ".join(scopes),
        }
        return self._token_request(form, extra_secrets=())

    def register_partner_domain(
        self,
        *,
        partner_access_token: str,
        domain: str,
        fleet_base_url: str | None = None,
    ) -> PartnerAccount:
        """Register our domain in a Fleet API region (``POST /api/1/partner_accounts``).

        Tesla fetches ``https://{domain}/.well-known/appspecific/com.tesla.3p.public-key.pem``
        (an EC prime256v1 public key, see ``partner_key``) during this call, so serve it first.
        Needed once per region; until then user calls answer 412.
        """
        domain = domain.strip().lower()
        if not _DOMAIN_RE.fullmatch(domain):
            raise ValueError("domain must be a bare host name such as app.example.com")
        base_url = (fleet_base_url or self.audience).rstrip("/")
        result = send(
            self._session,
            "POST",
            f"{base_url}/api/1/partner_accounts",
            timeout=self.timeout,
            secrets=(partner_access_token,),
            bearer_token=partner_access_token,
            json_body={"domain": domain},
        )
        payload = _parse.unwrap(result.body, "POST partner_accounts")
        return _parse.parse_partner_account(payload, domain=domain)

    # --------------------------------------------------------------- plumbing

    def _require_redirect_uri(self) -> str:
        if not self.redirect_uri:
            raise ValueError("redirect_uri is not configured")
        return self.redirect_uri

    def _token_request(self, form: Mapping[str, str], *, extra_secrets: Iterable[str]) -> TokenSet:
        issued_at = self._clock()
        result = send(
            self._session,
            "POST",
            self.token_url,
            timeout=self.timeout,
            secrets=(self._client_secret or "", *extra_secrets),
            form=form,
            oauth=True,
        )
        return _parse_token_set(result.body, issued_at=issued_at)


def _parse_token_set(body: Any, *, issued_at: datetime) -> TokenSet:
    # Messages never include the body: it holds the tokens.
    if not isinstance(body, dict):
        raise InvalidResponse("token endpoint: expected a JSON object")
    access_token = body.get("access_token")
    refresh_token = body.get("refresh_token")
    expires_in = body.get("expires_in")
    if not isinstance(access_token, str) or not access_token:
        raise InvalidResponse("token endpoint: access_token missing")
    if refresh_token is not None and not isinstance(refresh_token, str):
        raise InvalidResponse("token endpoint: refresh_token is not a string")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        raise InvalidResponse("token endpoint: expires_in missing or not a positive integer")
    scope = body.get("scope")
    scopes = tuple(scope.split()) if isinstance(scope, str) else _jwt_scopes(access_token)
    return TokenSet(
        access_token=access_token,
        refresh_token=refresh_token or None,
        expires_at=issued_at.astimezone(UTC) + timedelta(seconds=expires_in),
        scopes=scopes,
    )


def _jwt_scopes(access_token: str) -> tuple[str, ...]:
    """The ``scp`` claim of a JWT access token, read without verifying the signature.

    Only informational (which scopes the household granted); Tesla enforces them. Anything that
    is not a readable JWT gives no scopes rather than an error.
    """
    parts = access_token.split(".")
    if len(parts) != 3:
        return ()
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(segment.encode("ascii")))
    except (ValueError, UnicodeError):  # binascii.Error and JSONDecodeError are ValueErrors
        return ()
    scp = claims.get("scp") if isinstance(claims, dict) else None
    if isinstance(scp, str):
        return tuple(scp.split())
    if isinstance(scp, list) and all(isinstance(s, str) for s in scp):
        return tuple(scp)
    return ()
