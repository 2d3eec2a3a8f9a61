"""One HTTP round trip to Tesla, with every failure translated into the client's exception tree.

Shared by the energy client and the OAuth client so that the translation lives in one place
(CONVENTIONS habit 11). Nothing here knows about energy sites or tariffs.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from .errors import (
    AuthFailed,
    ClientConfigError,
    DeviceOffline,
    InvalidResponse,
    MissingScope,
    NotFound,
    PartnerNotRegistered,
    PaymentRequired,
    RateLimited,
    RequestRejected,
    TeslaError,
    TokenExpired,
    Unavailable,
    WrongRegion,
)

logger = logging.getLogger("devices.providers.tesla")

#: (connect, read) seconds. Tesla answers energy commands only after the gateway acknowledged,
#: which can take several seconds, hence the generous read timeout.
DEFAULT_TIMEOUT_S: tuple[float, float] = (5.0, 30.0)

_MAX_DESCRIPTION_CHARS = 200
_REDACTED = "[redacted]"

# OAuth errors (RFC 6749 §5.2 plus Tesla's own) meaning "this grant or client is not valid":
# a new authorisation is needed, retrying cannot help.
_OAUTH_GRANT_ERRORS = frozenset(
    {
        "invalid_grant",
        "invalid_auth_code",
        "invalid_client",
        "unauthorized_client",
        "login_required",
    }
)

# requests exceptions that mean the request could not be built: configuration mistakes.
_CONFIG_ERRORS: tuple[type[requests.RequestException], ...] = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
    requests.exceptions.InvalidJSONError,
)


@dataclass(frozen=True)
class HttpResult:
    """A successful (2xx) response with its JSON body already decoded."""

    http_status: int
    body: Any
    latency_ms: float


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (token, client secret, code…) appearing in ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: tuple[float, float],
    secrets: Iterable[str],
    bearer_token: str | None = None,
    json_body: Mapping[str, Any] | None = None,
    form: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    oauth: bool = False,
) -> HttpResult:
    """Send one request and return the decoded 2xx JSON body, or raise a ``TeslaError``.

    Args:
        secrets: Strings that must never appear in a log line or an exception message.
        json_body: Sent as ``application/json`` (Tesla answers 406 to anything else). Non-finite
            numbers raise ``ValueError`` before anything is sent.
        form: Sent as ``application/x-www-form-urlencoded`` (the OAuth token endpoint).
        oauth: Interpret 400/401 the way Tesla's OAuth server uses them.

    Raises:
        TeslaError: one of its subclasses, for every failure.
        ValueError: ``json_body`` cannot be encoded as strict JSON (a caller bug).
    """
    secrets = tuple(s for s in secrets if s)
    where = f"{method} {urlsplit(url).path}"
    headers = {"Accept": "application/json"}
    if bearer_token is not None:
        headers["Authorization"] = f"Bearer {bearer_token}"
    data: str | Mapping[str, str] | None = None
    if json_body is not None:
        # Encoded here rather than by requests so NaN/inf fail loudly as ValueError.
        data = json.dumps(json_body, allow_nan=False, separators=(",", ":"))
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data = form

    started = time.monotonic()
    try:
        response = session.request(
            method,
            url,
            headers=headers,
            data=data,
            params=params,
            timeout=timeout,
            allow_redirects=False,
        )
    except _CONFIG_ERRORS as exc:
        # The message of some of these (InvalidHeader) quotes the header value, i.e. the token:
        # keep only the type and break the chain.
        raise ClientConfigError(
            f"{where}: request could not be built ({type(exc).__name__})"
        ) from None
    except requests.Timeout as exc:
        raise Unavailable(f"{where}: timed out ({type(exc).__name__})") from None
    except requests.RequestException as exc:
        detail = redact(str(exc), secrets)[:_MAX_DESCRIPTION_CHARS]
        raise Unavailable(f"{where}: {type(exc).__name__}: {detail}") from None
    latency_ms = (time.monotonic() - started) * 1000.0
    status = response.status_code
    logger.debug("tesla %s -> %s in %.0f ms", where, status, latency_ms)

    body = _decode_json(response.content)
    if 200 <= status < 300:
        if body is _NOT_JSON:
            raise InvalidResponse(f"{where}: HTTP {status} body is not JSON", http_status=status)
        return HttpResult(http_status=status, body=body, latency_ms=latency_ms)
    raise error_for_status(
        status,
        body if isinstance(body, dict) else None,
        response.headers,
        where=where,
        secrets=secrets,
        oauth=oauth,
    )


class _NotJson:
    pass


_NOT_JSON = _NotJson()


def _decode_json(content: bytes) -> Any:
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return _NOT_JSON


def error_for_status(
    status: int,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str],
    *,
    where: str,
    secrets: Iterable[str] = (),
    oauth: bool = False,
) -> TeslaError:
    """Translate a non-2xx response into the matching exception (returned, not raised)."""
    error_code = _text_field(body, "error")
    description = _text_field(body, "error_description")
    message = f"{where}: HTTP {status}"
    if error_code:
        message += f" {error_code}"
    if description:
        message += f": {description[:_MAX_DESCRIPTION_CHARS]}"
    message = redact(message, secrets)
    if error_code:
        error_code = redact(error_code, secrets)[:_MAX_DESCRIPTION_CHARS]
    kwargs: dict[str, Any] = {"http_status": status, "error_code": error_code}

    if oauth and (status == 401 or (status == 400 and error_code in _OAUTH_GRANT_ERRORS)):
        return AuthFailed(message, **kwargs)
    if status == 401:
        # Tesla answers an expired token with 401 and no body, or the enum "token expired (401)";
        # anything else (invalid_token, login_required, mobile_access_disabled…) needs a new grant.
        if not error_code or "expired" in error_code.lower():
            return TokenExpired(message, **kwargs)
        return AuthFailed(message, **kwargs)
    if status == 402:
        return PaymentRequired(message, **kwargs)
    if status == 403:
        return MissingScope(message, **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status == 408:
        return DeviceOffline(message, **kwargs)
    if status == 412:
        return PartnerNotRegistered(message, **kwargs)
    if status == 421:
        return WrongRegion(message, **kwargs)
    if status == 429:
        return RateLimited(message, retry_after_s=parse_retry_after(headers), **kwargs)
    if status >= 500:
        return Unavailable(message, **kwargs)
    if 400 <= status < 500:
        return RequestRejected(message, **kwargs)
    # 1xx/3xx: we never follow redirects, and Tesla does not send them to API clients.
    return InvalidResponse(message, **kwargs)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _text_field(body: Mapping[str, Any] | None, key: str) -> str | None:
    if body is None:
        return None
    value = body.get(key)
    return value if isinstance(value, str) and value else None
