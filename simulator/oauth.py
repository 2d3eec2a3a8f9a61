"""Tesla OAuth 2 as the simulator plays it: codes, JWT access tokens, single-use refresh tokens.

Access tokens are HS256 JWTs signed with a key derived from the seed, so checking one needs no
table. Codes and refresh tokens live in dicts. The event loop is single-threaded and the
"check and mark used" step has no ``await`` inside, so two concurrent refreshes with one token
cannot both win.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

ACCESS_TOKEN_TTL_S = 8 * 3600
CODE_TTL_S = 600
DEFAULT_SCOPES = ("openid", "offline_access", "user_data", "energy_device_data", "energy_cmds")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a PKCE ``code_verifier`` (RFC 7636 §4.2)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def _pkce_matches(challenge: str, verifier: str | None) -> bool:
    # RFC 7636 §4.1: 43-128 characters from the unreserved set.
    if not verifier or not 43 <= len(verifier) <= 128 or not verifier.isascii():
        return False
    return hmac.compare_digest(pkce_challenge(verifier), challenge)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(slots=True)
class Claims:
    household: int | None  # None for partner tokens
    client_id: str
    scopes: tuple[str, ...]
    exp: float
    iat: float
    partner: bool
    generation: int


@dataclass(slots=True)
class _Code:
    household: int
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_real: float
    used: bool = False
    code_challenge: str | None = None  # PKCE (RFC 7636), S256 only


@dataclass(slots=True)
class _Refresh:
    household: int
    client_id: str
    scopes: tuple[str, ...]
    used: bool = False


class TokenService:
    def __init__(self, seed: int, issuer: str = "https://auth.tesla.com/oauth2/v3/nts") -> None:
        self._key = hashlib.sha256(f"powersync-simulator-jwt:{seed}".encode()).digest()
        self.issuer = issuer
        self.audience = "https://fleet-api.prd.na.vn.cloud.tesla.com"
        self.codes: dict[str, _Code] = {}
        self.refresh_tokens: dict[str, _Refresh] = {}
        self.generation = 0  # access tokens minted in an older generation count as expired
        self._verified: dict[str, Claims] = {}
        self.stats = {"refresh_ok": 0, "refresh_reused": 0, "codes_issued": 0}

    # -- JWT --------------------------------------------------------------------------------
    def _sign(self, payload: dict[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "sim"}).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(signature)}"

    def access_token(
        self, *, household: int | None, client_id: str, scopes: tuple[str, ...], now: float
    ) -> str:
        payload = {
            "iss": self.issuer,
            "azp": client_id,
            "sub": f"sim-user-{household}" if household is not None else f"partner:{client_id}",
            "aud": [self.audience, f"{self.audience}/"],
            "scp": list(scopes),
            "amr": ["pwd"] if household is not None else [],
            "iat": int(now),
            "exp": int(now) + ACCESS_TOKEN_TTL_S,
            "ou_code": "NA",
            "jti": secrets.token_hex(8),
            "sim_gen": self.generation,
        }
        return self._sign(payload)

    def verify(self, token: str) -> Claims | None:
        """Claims of a well-signed token (expiry is the caller's check), else None."""
        claims = self._verified.get(token)
        if claims is not None:
            return claims
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, _unb64(parts[2])):
                return None
            payload = json.loads(_unb64(parts[1]))
        except (ValueError, TypeError):
            return None
        sub = str(payload.get("sub", ""))
        household = int(sub.rsplit("-", 1)[1]) if sub.startswith("sim-user-") else None
        claims = Claims(
            household=household,
            client_id=str(payload.get("azp", "")),
            scopes=tuple(payload.get("scp", ())),
            exp=float(payload.get("exp", 0)),
            iat=float(payload.get("iat", 0)),
            partner=household is None,
            generation=int(payload.get("sim_gen", 0)),
        )
        if len(self._verified) > 200_000:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def expired(self, claims: Claims, now: float) -> bool:
        return now >= claims.exp or claims.generation < self.generation

    # -- grants -----------------------------------------------------------------------------
    def issue_code(
        self,
        *,
        household: int,
        client_id: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        code_challenge: str | None = None,
    ) -> str:
        code = "NA_" + secrets.token_hex(32)
        self.codes[code] = _Code(
            household,
            client_id,
            redirect_uri,
            scopes,
            time.monotonic() + CODE_TTL_S,
            code_challenge=code_challenge,
        )
        self.stats["codes_issued"] += 1
        return code

    def _pair(
        self, household: int, client_id: str, scopes: tuple[str, ...], now: float
    ) -> dict[str, Any]:
        result: dict[str, Any] = {
            "access_token": self.access_token(
                household=household, client_id=client_id, scopes=scopes, now=now
            ),
            "expires_in": ACCESS_TOKEN_TTL_S,
            "id_token": self._sign({"sub": f"sim-user-{household}", "aud": client_id}),
            "token_type": "Bearer",
        }
        if "offline_access" in scopes:
            refresh = "NA_" + secrets.token_hex(32)
            self.refresh_tokens[refresh] = _Refresh(household, client_id, scopes)
            result["refresh_token"] = refresh
        return result

    def exchange_code(
        self,
        *,
        client_id: str,
        code: str,
        redirect_uri: str | None,
        now: float,
        code_verifier: str | None = None,
    ) -> dict[str, Any]:
        record = self.codes.get(code)
        if record is None or record.used or time.monotonic() > record.expires_real:
            raise OAuthError(400, "invalid_auth_code", "The authorization code is invalid")
        if record.client_id != client_id:
            raise OAuthError(400, "invalid_auth_code", "The code was issued to another client")
        if redirect_uri is not None and redirect_uri != record.redirect_uri:
            raise OAuthError(400, "invalid_redirect_url", "redirect_uri does not match")
        if record.code_challenge is not None and not _pkce_matches(
            record.code_challenge, code_verifier
        ):
            # RFC 7636 §4.6: a code bound to a challenge needs the matching verifier.
            raise OAuthError(400, "invalid_grant", "code_verifier does not match code_challenge")
        record.used = True
        del self.codes[code]
        return self._pair(record.household, client_id, record.scopes, now)

    def refresh(self, *, client_id: str, refresh_token: str, now: float) -> dict[str, Any]:
        record = self.refresh_tokens.get(refresh_token)
        if record is None or record.used:
            # Tesla answers a reused (single-use) refresh token with login_required.
            self.stats["refresh_reused"] += 1
            raise OAuthError(401, "login_required", "Login required")
        if client_id and record.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "The refresh token was issued to another client")
        record.used = True  # no await between the check and this line: exactly one winner
        self.stats["refresh_ok"] += 1
        return self._pair(record.household, record.client_id, record.scopes, now)

    def partner_token(
        self, *, client_id: str, scopes: tuple[str, ...], now: float
    ) -> dict[str, Any]:
        return {
            "access_token": self.access_token(
                household=None, client_id=client_id, scopes=scopes, now=now
            ),
            "expires_in": ACCESS_TOKEN_TTL_S,
            "token_type": "Bearer",
        }
