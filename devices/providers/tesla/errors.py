"""The exception tree of the Tesla client (Fleet API, Teslemetry and Tesla's OAuth server).

Every failure the client can meet -- an HTTP status, a timeout, a refused connection, a body that
is not what Tesla documents -- is raised as exactly one of these, so callers never see `requests`
exceptions or vendor JSON. Messages carry the HTTP method, the path, the status and Tesla's short
error enum; they never carry a token, a client secret or a request body.

``retryable`` tells a task whether trying again later can succeed (CONVENTIONS habit 4):
``Unavailable``, ``RateLimited`` and ``DeviceOffline`` are transient; auth, scope, registration,
region and bad-request errors are not and must be recorded instead.
"""

from __future__ import annotations


class TeslaError(Exception):
    """Base class of every error raised by the Tesla client.

    Attributes:
        http_status: The HTTP status Tesla answered with, or None for transport failures.
        error_code: Tesla's short error enum (``"invalid_field"``, ``"login_required"``…) if any.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error_code = error_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, http_status={self.http_status!r})"


class AuthError(TeslaError):
    """The credentials were refused. Do not retry; the household has to reconnect or refresh."""


class TokenExpired(AuthError):
    """401 because the access token has expired: refresh it (OAuth) and try again once."""


class AuthFailed(AuthError):
    """401 (or an OAuth 400/401) because the token or grant is not valid any more.

    Covers ``invalid_token``, ``missing_token``, ``login_required`` (password reset, or a refresh
    token that was already used), ``invalid_grant``, ``invalid_auth_code`` and unknown clients.
    The site needs a new authorisation; refreshing will not help.
    """


class MissingScope(AuthError):
    """403: the token lacks a scope this call needs (e.g. ``energy_cmds`` for commands)."""


class PaymentRequired(TeslaError):
    """402: billing is not set up (Fleet API) or Teslemetry has no subscription/credits left."""


class NotFound(TeslaError):
    """404: the energy site (or path) does not exist for this token."""


class DeviceOffline(TeslaError):
    """408: the gateway is offline or did not answer Tesla in time. Transient."""

    retryable = True


class PartnerNotRegistered(TeslaError):
    """412: the application has not registered its domain/public key in this region."""


class WrongRegion(TeslaError):
    """421: the account lives in another Fleet API region.

    Attributes:
        correct_base_url: The Fleet API base URL the account belongs to, when region discovery
            (``GET /api/1/users/region``) told us; None if it could not be found out.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = 421,
        error_code: str | None = None,
        correct_base_url: str | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, error_code=error_code)
        self.correct_base_url = correct_base_url


class RateLimited(TeslaError):
    """429: too many requests.

    Attributes:
        retry_after_s: Seconds to wait, from the ``Retry-After`` header; None if absent or
            unreadable. A task should use it as its countdown.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = 429,
        error_code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, error_code=error_code)
        self.retry_after_s = retry_after_s


class RequestRejected(TeslaError):
    """Any other 4xx (400 ``invalid_field``, 405, 406, 422, 423, 451…): our request is wrong or
    not allowed. Do not retry unchanged."""


class Unavailable(TeslaError):
    """5xx, a timeout, a refused or dropped connection, or a broken transfer. Transient.

    Tesla does not bill responses with status >= 500, so retrying these costs nothing.
    """

    retryable = True


class InvalidResponse(TeslaError):
    """The response was not JSON, had no ``{"response": …}`` envelope, or had the wrong shape."""


class ClientConfigError(TeslaError):
    """The request could not even be built (bad base URL or header): a configuration mistake."""


#: Errors worth an automatic retry with backoff (e.g. Celery ``autoretry_for``).
TRANSIENT_ERRORS: tuple[type[TeslaError], ...] = (Unavailable, RateLimited, DeviceOffline)
