"""Exceptions raised by the Amber client and live listener.

Every failure the transport can produce is translated into exactly one of these, so callers
(Celery tasks, the live-price supervisor) decide what to do from the class alone:

- ``AuthFailed``, ``NotFound``, ``BadRequest``: permanent for this request; record, don't retry.
- ``RateLimited``: wait ``retry_after`` seconds, then retry.
- ``Unavailable``: transient (5xx, timeouts, connection errors); retry with backoff.
- ``InvalidResponse``: Amber answered, but not with what the API documents; record, and retry
  later at most (it usually means the API changed).

Messages never contain the bearer token, and the original ``requests`` exception is not chained
(its ``request`` attribute carries the ``Authorization`` header).
"""

from __future__ import annotations


class AmberError(Exception):
    """Base class of every error raised by ``pricing.providers.amber``."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class AuthFailed(AmberError):
    """The token is missing, invalid or revoked (HTTP 401), or lacks access (HTTP 403)."""


class NotFound(AmberError):
    """The site (or other resource) does not exist for this token (HTTP 404)."""


class BadRequest(AmberError):
    """Amber rejected the parameters (HTTP 400/422, or another 4xx); ``message`` has its reason."""


class RateLimited(AmberError):
    """Too many requests for this token (HTTP 429).

    ``retry_after`` is in seconds (float). It comes from ``Retry-After`` or ``RateLimit-Reset``
    (the larger when both are sent), and is 60 s when Amber sends neither.
    """

    def __init__(self, message: str, *, retry_after: float, status_code: int | None = 429) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class Unavailable(AmberError):
    """Amber could not be reached or failed: HTTP 5xx, connection error or timeout."""


class InvalidResponse(AmberError):
    """Amber answered with something that is not the documented shape (bad JSON, missing fields)."""


class LiveNotEnabled(AmberError):
    """The live-price WebSocket refused the handshake with HTTP 403: the account is not enabled.

    The caller should fall back to REST polling; reconnecting will not help.
    """
