"""AEMO NEM regional price client. Framework-free: no Django here.

Reads the JSON reports behind AEMO's NEM dashboard (``visualisations.aemo.com.au``; undocumented,
no auth, no published rate limit). Call it once per region set for all households, at most once
per dispatch interval (5 min). The client never sleeps or retries; the caller owns retry policy.

- ``get_current_prices``: ``GET /aemo/apps/api/report/ELEC_NEM_SUMMARY``, the latest 5-minute
  dispatch price per region.
- ``get_price_series``: ``POST /aemo/apps/api/report/5MIN`` with ``{"timeScale": ["30MIN"]}``:
  ~24 h of 5-minute actuals plus the 30-minute predispatch forecast to ~04:00 next day.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

import requests

from .errors import AemoError, BadRequest, InvalidResponse, RateLimited, Unavailable
from .models import (
    ALL_REGIONS,
    CurrentPrices,
    PriceSeries,
    normalise_regions,
    parse_current_prices,
    parse_price_series,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://visualisations.aemo.com.au"
SUMMARY_PATH = "/aemo/apps/api/report/ELEC_NEM_SUMMARY"
PRICE_SERIES_PATH = "/aemo/apps/api/report/5MIN"
DEFAULT_TIMEOUT_S: tuple[float, float] = (5.0, 20.0)  # (connect, read)
# The dashboard endpoints answer scripts without a browser-like User-Agent and Referer with errors.
DEFAULT_USER_AGENT = "Mozilla/5.0 (compatible; PowerSync/0.1)"
REFERER = "https://visualisations.aemo.com.au/aemo/apps/visualisation/index.html"
RATE_LIMIT_FALLBACK_S = 60.0
_ERROR_TEXT_LIMIT = 200


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AemoClient:
    """Typed client for AEMO's NEM dashboard price reports.

    Args:
        session: shared ``requests.Session`` (a private one when omitted).
        base_url: site root, default ``https://visualisations.aemo.com.au`` (tests and the
            simulator pass their own).
        timeout_s: ``(connect, read)`` timeouts in seconds.
        clock: returns the current aware UTC datetime (``fetched_at`` of results).
        user_agent: ``User-Agent`` header.

    Methods raise ``UnknownRegion`` (a ``ValueError``) for bad region ids, and otherwise only
    ``AemoError`` subclasses: ``Unavailable``, ``RateLimited``, ``BadRequest``, ``InvalidResponse``.
    """

    def __init__(
        self,
        *,
        session: requests.Session | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: tuple[float, float] = DEFAULT_TIMEOUT_S,
        clock: Callable[[], datetime] = _utc_now,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if len(timeout_s) != 2 or min(timeout_s) <= 0:
            raise ValueError("timeout_s must be a (connect, read) pair of positive seconds")
        self._session = session if session is not None else requests.Session()
        self._base_url = base_url.rstrip("/")
        self._timeout_s = (float(timeout_s[0]), float(timeout_s[1]))
        self._clock = clock
        self._headers = {
            "Accept": "application/json",
            "User-Agent": user_agent,
            "Referer": REFERER,
        }

    def __repr__(self) -> str:
        return f"AemoClient(base_url={self._base_url!r})"

    def get_current_prices(self, regions: Iterable[str] = ALL_REGIONS) -> CurrentPrices:
        """Latest 5-minute dispatch price ($/MWh ex GST) per region, with interval start/end in
        aware UTC. Regions absent from the report are listed in ``missing_regions``."""
        wanted = normalise_regions(regions)
        payload = self._request("GET", SUMMARY_PATH)
        result = parse_current_prices(payload, wanted, fetched_at=self._clock())
        if result.missing_regions:
            logger.warning("AEMO summary lacks regions: %s", ", ".join(result.missing_regions))
        return result

    def get_price_series(
        self,
        regions: Iterable[str] = ALL_REGIONS,
        *,
        time_scale: Literal["5MIN", "30MIN"] = "30MIN",
    ) -> PriceSeries:
        """Recent actual prices and the predispatch forecast per region ($/MWh ex GST).

        AEMO may answer 204 (nothing new): that gives an empty series with every requested
        region in ``missing_regions``.
        """
        wanted = normalise_regions(regions)
        if time_scale not in ("5MIN", "30MIN"):
            raise ValueError(f"time_scale must be '5MIN' or '30MIN', got {time_scale!r}")
        payload = self._request("POST", PRICE_SERIES_PATH, json_body={"timeScale": [time_scale]})
        if payload is None:
            return PriceSeries(
                points=(), missing_regions=wanted, fetched_at=self._clock(), regions=wanted
            )
        return parse_price_series(payload, wanted, fetched_at=self._clock())

    # --- transport --------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, json_body: Mapping[str, object] | None = None
    ) -> object:
        """Send one request; return the decoded JSON body, or None for 204 No Content."""
        url = f"{self._base_url}{path}"
        where = f"{method} {path}"
        try:
            response = self._session.request(
                method, url, headers=self._headers, json=json_body, timeout=self._timeout_s
            )
        except requests.Timeout as exc:
            raise Unavailable(f"AEMO timed out on {where}: {type(exc).__name__}") from None
        except requests.ConnectionError as exc:
            raise Unavailable(f"could not connect to AEMO for {where}: {_short(exc)}") from None
        except requests.TooManyRedirects:
            raise InvalidResponse(f"AEMO redirected too many times on {where}") from None
        except requests.RequestException as exc:
            raise Unavailable(f"AEMO request {where} failed: {_short(exc)}") from None

        status = response.status_code
        logger.debug("aemo %s -> %s", where, status)
        if status == 204:
            return None
        if status != 200:
            raise _error_for(response, where)
        try:
            return json.loads(response.content, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise InvalidResponse(f"AEMO returned non-JSON for {where}", status_code=200) from None


def _error_for(response: requests.Response, where: str) -> AemoError:
    status = response.status_code
    if status == 429:
        retry_after_s = _retry_after_s(response.headers.get("Retry-After"))
        return RateLimited(
            f"AEMO rate limited {where}; retry after {retry_after_s:.0f} s",
            retry_after=retry_after_s,
            status_code=status,
        )
    if status >= 500 or status == 403:
        return Unavailable(f"AEMO failed on {where} (HTTP {status})", status_code=status)
    if 400 <= status < 500:
        text = " ".join(response.text.split())[:_ERROR_TEXT_LIMIT] if response.content else ""
        suffix = f": {text}" if text else ""
        return BadRequest(f"AEMO refused {where} (HTTP {status}){suffix}", status_code=status)
    return InvalidResponse(f"AEMO answered {where} with HTTP {status}", status_code=status)


def _retry_after_s(value: str | None) -> float:
    if value:
        match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*$", value)
        if match:
            return float(match.group(1))
    return RATE_LIMIT_FALLBACK_S


def _short(exc: requests.RequestException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_ERROR_TEXT_LIMIT]
