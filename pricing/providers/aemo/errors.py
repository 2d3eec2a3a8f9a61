"""Exceptions raised by the AEMO client.

``Unavailable`` and ``RateLimited`` are transient (retry with backoff / after ``retry_after``);
``InvalidResponse`` means the undocumented dashboard JSON changed shape; ``UnknownRegion`` is a
programming error (also a ``ValueError``). No ``requests`` exception escapes the client.
"""

from __future__ import annotations


class AemoError(Exception):
    """Base class of every error raised by ``pricing.providers.aemo``."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class UnknownRegion(AemoError, ValueError):
    """A region id that is not one of NSW1, QLD1, VIC1, SA1, TAS1."""


class Unavailable(AemoError):
    """AEMO could not be reached or failed: 5xx, 403 (AEMO blocks/throttles scripts with 403),
    connection error or timeout. Back off and retry."""


class RateLimited(AemoError):
    """HTTP 429. ``retry_after`` is in seconds (``Retry-After``, else 60 s)."""

    def __init__(self, message: str, *, retry_after: float, status_code: int | None = 429) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class BadRequest(AemoError):
    """AEMO refused the request (4xx other than 403/429): our request is wrong; do not retry."""


class InvalidResponse(AemoError):
    """The body is not JSON, or not the shape the dashboard report is known to have."""
