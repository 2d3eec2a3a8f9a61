"""Amber Electric REST client (API v1, schema 2.0.0). Framework-free: no Django here.

One ``AmberClient`` per API token. The ``requests.Session`` is injected so many clients (one per
household) can share one connection pool; the token is therefore sent per request, never stored
on the session. The token never appears in logs, reprs or exception messages.

Amber allows about 50 requests per 5 minutes per token (observed ``RateLimit-Policy: 50;w=300``).
After every response the client records the ``RateLimit-*`` headers in ``client.rate_limit`` so a
scheduler can spread calls; a 429 raises ``RateLimited(retry_after)``. The client itself never
sleeps or retries: retry policy belongs to the caller (Celery task).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.parse import quote, urlsplit

import requests

from .errors import (
    AmberError,
    AuthFailed,
    BadRequest,
    InvalidResponse,
    NotFound,
    RateLimited,
    Unavailable,
)
from .models import (
    ChannelType,
    IntervalType,
    PriceInterval,
    RateLimitStatus,
    Site,
    UsageInterval,
    parse_price_intervals,
    parse_rate_limit,
    parse_sites,
    parse_usage_intervals,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.amber.com.au/v1"
DEFAULT_TIMEOUT_S: tuple[float, float] = (5.0, 20.0)  # (connect, read)
VALID_RESOLUTIONS_MIN = frozenset({5, 30})
MAX_INTERVALS_PER_CALL = 2048  # next + previous on /prices/current
# Amber: "the difference between startDate and endDate must not exceed 7 days". We ask for at most
# 7 calendar days (inclusive) per call, which satisfies either reading of that sentence.
MAX_DAYS_PER_CALL = 7
RATE_LIMIT_FALLBACK_S = 60.0
_ERROR_TEXT_LIMIT = 300

_CHANNEL_ORDER = {ChannelType.GENERAL: 0, ChannelType.CONTROLLED_LOAD: 1, ChannelType.FEED_IN: 2}
# When two calls return the same interval, keep the most settled version.
_TYPE_RANK = {IntervalType.FORECAST: 0, IntervalType.CURRENT: 1, IntervalType.ACTUAL: 2}

_T = TypeVar("_T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AmberClient:
    """Typed client for one Amber API token.

    Args:
        token: the household's Amber API token (``psk_...``). Sent as ``Authorization: Bearer``.
        session: shared ``requests.Session``; a private one is created when omitted.
        base_url: API root, default ``https://api.amber.com.au/v1`` (the simulator passes its own).
        timeout_s: ``(connect, read)`` timeouts in seconds for every request.
        clock: returns the current aware UTC datetime (injected by tests).

    Every method raises only ``AmberError`` subclasses (see ``errors.py``) for transport and
    protocol problems, and ``ValueError`` for arguments that could never be valid.
    """

    def __init__(
        self,
        token: str,
        *,
        session: requests.Session | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValueError("an Amber API token is required")
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if len(timeout_s) != 2 or min(timeout_s) <= 0:
            raise ValueError("timeout_s must be a (connect, read) pair of positive seconds")
        self._token = token
        self._session = session if session is not None else requests.Session()
        self._base_url = base_url.rstrip("/")
        self._timeout_s = (float(timeout_s[0]), float(timeout_s[1]))
        self._clock = clock
        self._rate_limit: RateLimitStatus | None = None

    def __repr__(self) -> str:
        return f"AmberClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def rate_limit(self) -> RateLimitStatus | None:
        """Budget reported by the most recent response (None before the first call)."""
        return self._rate_limit

    # --- endpoints --------------------------------------------------------------------------

    def list_sites(self) -> list[Site]:
        """``GET /sites``: every site linked to the token."""
        return parse_sites(self._get("/sites"))

    def get_current_prices(
        self,
        site_id: str,
        *,
        next_intervals: int = 0,
        previous_intervals: int = 0,
        resolution_min: int | None = None,
    ) -> list[PriceInterval]:
        """``GET /sites/{id}/prices/current``: the current interval on every channel.

        ``next_intervals`` forecasts and ``previous_intervals`` actuals are added per channel
        (together at most 2048). ``resolution_min`` is 5 or 30 (None = the site's billing
        interval). Prices are c/kWh incl. GST; feed-in negative = the household earns.
        Results keep Amber's order (general, controlled load, feed-in; each by time).
        """
        if next_intervals < 0 or previous_intervals < 0:
            raise ValueError("next_intervals and previous_intervals must be >= 0")
        if next_intervals + previous_intervals > MAX_INTERVALS_PER_CALL:
            raise ValueError(
                f"next_intervals + previous_intervals must be <= {MAX_INTERVALS_PER_CALL}"
            )
        params: dict[str, str] = {}
        if next_intervals:
            params["next"] = str(next_intervals)
        if previous_intervals:
            params["previous"] = str(previous_intervals)
        if resolution_min is not None:
            params["resolution"] = str(_validated_resolution(resolution_min))
        payload = self._get(f"/sites/{_path_id(site_id)}/prices/current", params)
        return parse_price_intervals(payload)

    def get_prices(
        self,
        site_id: str,
        *,
        start_date: date,
        end_date: date,
        resolution_min: int | None = None,
    ) -> list[PriceInterval]:
        """``GET /sites/{id}/prices``: every interval of the NEM days ``start_date``..``end_date``
        (both inclusive).

        Ranges longer than 7 days are fetched in 7-day calls (each costs one request of the
        rate budget) and merged: one entry per (channel, start, end), keeping the most settled
        (Actual over Current over Forecast), sorted by channel then start time.
        """
        params: dict[str, str] = {}
        if resolution_min is not None:
            params["resolution"] = str(_validated_resolution(resolution_min))
        path = f"/sites/{_path_id(site_id)}/prices"
        chunks = (
            parse_price_intervals(
                self._get(
                    path, {**params, "startDate": first.isoformat(), "endDate": last.isoformat()}
                )
            )
            for first, last in split_date_range(start_date, end_date)
        )
        return _merge_prices(chunks)

    def get_usage(self, site_id: str, *, start_date: date, end_date: date) -> list[UsageInterval]:
        """``GET /sites/{id}/usage``: metered usage for the NEM days ``start_date``..``end_date``
        (inclusive; Amber keeps 90 days). Longer ranges are split into 7-day calls and merged
        (one entry per channel identifier and interval). kWh: generation is negative.
        """
        path = f"/sites/{_path_id(site_id)}/usage"
        merged: dict[tuple[str, datetime, datetime], UsageInterval] = {}
        for first, last in split_date_range(start_date, end_date):
            payload = self._get(path, {"startDate": first.isoformat(), "endDate": last.isoformat()})
            for usage in parse_usage_intervals(payload):
                merged.setdefault(
                    (usage.channel_identifier, usage.start_time, usage.end_time), usage
                )
        return sorted(
            merged.values(),
            key=lambda u: (_CHANNEL_ORDER[u.channel_type], u.channel_identifier, u.start_time),
        )

    # --- transport --------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> object:
        url = f"{self._base_url}{path}"
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        try:
            response = self._session.get(
                url, params=params, headers=headers, timeout=self._timeout_s
            )
        except requests.Timeout as exc:
            raise Unavailable(f"Amber timed out on GET {path}: {self._describe(exc)}") from None
        except requests.ConnectionError as exc:
            raise Unavailable(
                f"could not connect to Amber for GET {path}: {self._describe(exc)}"
            ) from None
        except requests.TooManyRedirects:
            raise InvalidResponse(f"Amber redirected too many times on GET {path}") from None
        except requests.RequestException as exc:
            raise Unavailable(f"Amber request GET {path} failed: {self._describe(exc)}") from None

        now = self._clock()
        rate_limit = parse_rate_limit(response.headers, now=now)
        if rate_limit is not None:
            self._rate_limit = rate_limit
        logger.debug(
            "amber GET %s -> %s (rate limit remaining %s)",
            path,
            response.status_code,
            rate_limit.remaining if rate_limit else "n/a",
        )
        if response.status_code != 200:
            raise self._error_for(response, path, now)
        try:
            return json.loads(response.content, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise InvalidResponse(
                f"Amber returned non-JSON for GET {path}", status_code=200
            ) from None

    def _error_for(self, response: requests.Response, path: str, now: datetime) -> AmberError:
        status = response.status_code
        reason = self._error_text(response)
        where = f"GET {path}"
        if status in (401, 403):
            return AuthFailed(
                f"Amber rejected the token on {where} (HTTP {status})", status_code=status
            )
        if status == 404:
            return NotFound(f"Amber: not found on {where}{reason}", status_code=status)
        if status == 429:
            retry_after_s = _retry_after_s(response.headers, now)
            return RateLimited(
                f"Amber rate limit reached on {where}; retry after {retry_after_s:.0f} s",
                retry_after=retry_after_s,
                status_code=status,
            )
        if status >= 500:
            return Unavailable(
                f"Amber failed on {where} (HTTP {status}){reason}", status_code=status
            )
        if 400 <= status < 500:
            return BadRequest(f"Amber refused {where} (HTTP {status}){reason}", status_code=status)
        return InvalidResponse(f"Amber answered {where} with HTTP {status}", status_code=status)

    def _error_text(self, response: requests.Response) -> str:
        """A short, token-free reason from an error body (Amber does not specify error bodies)."""
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            text = response.text.strip() if response.content else ""
        else:
            text = ""
            if isinstance(body, dict):
                for key in ("message", "error", "detail", "title"):
                    if isinstance(body.get(key), str):
                        text = body[key]
                        break
            elif isinstance(body, str):
                text = body
        text = self._redact(" ".join(text.split()))[:_ERROR_TEXT_LIMIT]
        return f": {text}" if text else ""

    def _describe(self, exc: requests.RequestException) -> str:
        return self._redact(f"{type(exc).__name__}: {exc}")[:_ERROR_TEXT_LIMIT]

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***")


def split_date_range(
    start_date: date, end_date: date, *, max_days: int = MAX_DAYS_PER_CALL
) -> list[tuple[date, date]]:
    """Split the inclusive range ``start_date``..``end_date`` into inclusive chunks of at most
    ``max_days`` calendar days, in order. Raises ``ValueError`` if the range is reversed."""
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    if max_days < 1:
        raise ValueError("max_days must be >= 1")
    chunks = []
    first = start_date
    while first <= end_date:
        last = min(end_date, first + timedelta(days=max_days - 1))
        chunks.append((first, last))
        first = last + timedelta(days=1)
    return chunks


def _merge_prices(chunks: Iterable[list[PriceInterval]]) -> list[PriceInterval]:
    merged: dict[tuple[ChannelType, datetime, datetime], PriceInterval] = {}
    for interval in _flatten(chunks):
        key = (interval.channel_type, interval.start_time, interval.end_time)
        kept = merged.get(key)
        if kept is None or _TYPE_RANK[interval.type] > _TYPE_RANK[kept.type]:
            merged[key] = interval
    return sorted(
        merged.values(), key=lambda i: (_CHANNEL_ORDER[i.channel_type], i.start_time, i.end_time)
    )


def _flatten(chunks: Iterable[list[_T]]) -> Iterator[_T]:
    for chunk in chunks:
        yield from chunk


def _validated_resolution(resolution_min: int) -> int:
    if resolution_min not in VALID_RESOLUTIONS_MIN:
        raise ValueError(f"resolution_min must be 5 or 30, got {resolution_min!r}")
    return resolution_min


def _path_id(site_id: str) -> str:
    if not isinstance(site_id, str) or not site_id.strip():
        raise ValueError("site_id is required")
    return quote(site_id, safe="")


_DIGITS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")


def _retry_after_s(headers: Mapping[str, str], now: datetime) -> float:
    """Seconds to wait after a 429: the larger of ``Retry-After`` (seconds or HTTP date) and
    ``RateLimit-Reset`` (seconds); 60 s when neither is usable."""
    candidates: list[float] = []
    retry_after = headers.get("Retry-After")
    if retry_after:
        match = _DIGITS.match(retry_after)
        if match:
            candidates.append(float(match.group(1)))
        else:
            try:
                when = parsedate_to_datetime(retry_after)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None and when.tzinfo is not None:
                candidates.append(max(0.0, (when - now).total_seconds()))
    reset = headers.get("RateLimit-Reset")
    if reset:
        match = re.match(r"^\s*(\d+)", reset)
        if match:
            candidates.append(float(match.group(1)))
    return max(candidates) if candidates else RATE_LIMIT_FALLBACK_S
