"""Amber Electric REST API (v1 paths, OpenAPI 2.0.0 behaviour) under ``/amber/v1``.

Bodies are bare JSON arrays; every authenticated reply carries the RateLimit-* headers; 429 past
the per-token budget; 400/404/422 as the spec lists them. Price bodies are cached per (region,
resolution, query, simulated interval) and shared by every household of that region, because an
interval carries no household-specific field.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from aiohttp import web

from .core import SIM, Simulator, json_response, raw_json
from .energy import load_w, solar_w
from .households import Household
from .prices import FIVE_MIN, NEM_OFFSET_S, NEM_TZ, nem_day, nem_day_of_date

PREFIX = "/amber/v1"
MAX_INTERVALS = 2048
MAX_RANGE_DAYS = 7
USAGE_HISTORY_DAYS = 90


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"message": message}, status=status, headers=headers)


def _authorise(
    request: web.Request, sim: Simulator
) -> tuple[Household | None, dict[str, str], web.Response | None]:
    """(household, rate-limit headers, error reply)."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    household = sim.households.by_amber_token(token) if token else None
    if household is None:
        return None, {}, _error(401, "Unauthorized")
    limiter = sim.amber_limiter
    if not limiter.enabled:
        return household, {}, None
    allowed, remaining, reset = limiter.hit(token)
    headers = {
        "RateLimit-Limit": str(limiter.limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f"{limiter.limit};w={int(limiter.window_s)}",
    }
    if not allowed:
        return household, headers, _error(429, "Too Many Requests", headers)
    return household, headers, None


def _site(
    request: web.Request, sim: Simulator, household: Household, headers: dict[str, str]
) -> web.Response | None:
    site_id = request.match_info["site_id"]
    owner = sim.households.by_amber_site_id(site_id)
    if owner is None or owner.index != household.index:
        return _error(404, "Site not found", headers)
    return None


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer") from exc
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def _resolution(request: web.Request, household: Household) -> int:
    value = _int_param(request, "resolution", household.interval_length)
    if value not in (5, 30):
        raise ValueError("resolution must be 5 or 30")
    return value


def _date_param(request: web.Request, name: str, default: str | None) -> str:
    raw = request.query.get(name) or default
    if raw is None:
        raise ValueError(f"{name} is required")
    try:
        date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO date (YYYY-MM-DD)") from exc
    return raw


def _date_range(request: web.Request, default: str | None) -> tuple[int, int]:
    start = _date_param(request, "startDate", default)
    end = _date_param(request, "endDate", default)
    first, last = nem_day_of_date(start), nem_day_of_date(end)
    if last < first:
        raise ValueError("endDate must not be before startDate")
    return first, last


def _nem_today(sim: Simulator) -> str:
    return datetime.fromtimestamp(sim.clock.timestamp(), NEM_TZ).strftime("%Y-%m-%d")


def _site_request(
    request: web.Request,
) -> tuple[Simulator, Household, dict[str, str]] | web.Response:
    """Authorise the token and check that it owns the site in the path: the context to answer
    with, or the error reply (401 / 404) to send instead."""
    sim = request.app[SIM]
    household, headers, error = _authorise(request, sim)
    if error is not None or household is None:
        return error or _error(401, "Unauthorized")
    missing = _site(request, sim, household, headers)
    if missing is not None:
        return missing
    return sim, household, headers


async def sites(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    household, headers, error = _authorise(request, sim)
    if error is not None or household is None:
        return error or _error(401, "Unauthorized")
    return json_response([site_json(household)], headers=headers)


def site_json(household: Household) -> dict[str, Any]:
    return {
        "id": household.amber_site_id,
        "nmi": household.nmi,
        "channels": [
            {"identifier": "E1", "type": "general", "tariff": household.network_tariff},
            {"identifier": "B1", "type": "feedIn", "tariff": household.network_tariff},
        ],
        "network": household.network,
        "status": "active",
        "activeFrom": "2024-03-01",
        "intervalLength": household.interval_length,
    }


async def current_prices(request: web.Request) -> web.Response:
    context = _site_request(request)
    if isinstance(context, web.Response):
        return context
    sim, household, headers = context
    try:
        next_ = _int_param(request, "next", 0)
        previous = _int_param(request, "previous", 0)
        resolution = _resolution(request, household)
    except ValueError as exc:
        return _error(400, str(exc), headers)
    if next_ + previous > MAX_INTERVALS:
        return _error(422, "Requested number of intervals is greater than 2048", headers)
    body = sim.prices.current_body(household.region, resolution, previous, next_)
    return raw_json(body, headers=headers)


async def prices(request: web.Request) -> web.Response:
    context = _site_request(request)
    if isinstance(context, web.Response):
        return context
    sim, household, headers = context
    try:
        first, last = _date_range(request, _nem_today(sim))
        resolution = _resolution(request, household)
    except ValueError as exc:
        return _error(400, str(exc), headers)
    if last - first > MAX_RANGE_DAYS:
        return _error(422, "Requested date range is greater than 7 days", headers)
    body = sim.prices.range_body(household.region, resolution, first, last)
    return raw_json(body, headers=headers)


async def usage(request: web.Request) -> web.Response:
    context = _site_request(request)
    if isinstance(context, web.Response):
        return context
    sim, household, headers = context
    try:
        first, last = _date_range(request, None)
    except ValueError as exc:
        return _error(400, str(exc), headers)
    if last - first > MAX_RANGE_DAYS:
        return _error(422, "Requested date range is greater than 7 days", headers)
    return json_response(usage_rows(sim, household, first, last), headers=headers)


def usage_rows(sim: Simulator, household: Household, first: int, last: int) -> list[dict[str, Any]]:
    """Usage at the billing interval for completed intervals of NEM days first..last (≤ 90 days)."""
    now = sim.prices.now()
    step = household.interval_length * 60
    oldest_day = nem_day(now.current5_end) - USAGE_HISTORY_DAYS
    start = max(first, oldest_day) * 86_400 - NEM_OFFSET_S
    stop = min((last + 1) * 86_400 - NEM_OFFSET_S, (int(now.ts) // step) * step)
    billable_before = now.ts - 86_400
    general_rows: list[dict[str, Any]] = []
    feed_rows: list[dict[str, Any]] = []
    seed = sim.config.seed
    for end_ts in range(start + step, stop + 1, step):
        g, f = sim.prices.interval_pair(household.region, end_ts, household.interval_length, now)
        imported = exported = 0.0
        for slot_end in range(end_ts - step + FIVE_MIN, end_ts + 1, FIVE_MIN):
            net_w = load_w(household, slot_end - 150, seed) - solar_w(
                household, slot_end - 150, seed
            )
            if net_w >= 0:
                imported += net_w * FIVE_MIN / 3_600_000
            else:
                exported += -net_w * FIVE_MIN / 3_600_000
        quality = "billable" if end_ts < billable_before else "estimated"
        for row, channel, kwh in ((g, "E1", imported), (f, "B1", -exported)):
            row["type"] = "Usage"
            row["channelIdentifier"] = channel
            row["kwh"] = round(kwh, 4)
            row["quality"] = quality
            row["cost"] = round(kwh * row["perKwh"], 4)
        general_rows.append(g)
        feed_rows.append(f)
    return general_rows + feed_rows


async def renewables(request: web.Request) -> web.Response:
    """``/state/{state}/renewables/current``: no auth, like the real endpoint."""
    sim = request.app[SIM]
    state = request.match_info["state"].lower()
    region = {"nsw": "NSW1", "sa": "SA1", "qld": "QLD1", "vic": "VIC1"}.get(state)
    if region is None:
        return _error(404, "State not found")
    try:
        next_ = _int_param(request, "next", 0)
        previous = _int_param(request, "previous", 0)
        resolution = _int_param(request, "resolution", 30)
        if resolution not in (5, 30):
            raise ValueError("resolution must be 5 or 30")
    except ValueError as exc:
        return _error(400, str(exc))
    rows = json.loads(sim.prices.current_body(region, resolution, previous, next_))
    out = []
    for row in rows:
        if row["channelType"] != "general":
            continue
        kind = row["type"].replace("Interval", "Renewable")
        share = row["renewables"]
        descriptor = (
            "best"
            if share >= 60
            else "great"
            if share >= 45
            else "ok"
            if share >= 30
            else "notGreat"
            if share >= 15
            else "worst"
        )
        out.append(
            {
                "type": kind,
                "duration": row["duration"],
                "date": row["date"],
                "nemTime": row["nemTime"],
                "startTime": row["startTime"],
                "endTime": row["endTime"],
                "renewables": share,
                "descriptor": descriptor,
            }
        )
    return json_response(out)


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"{PREFIX}/sites", sites),
        web.get(f"{PREFIX}/sites/{{site_id}}/prices/current", current_prices),
        web.get(f"{PREFIX}/sites/{{site_id}}/prices", prices),
        web.get(f"{PREFIX}/sites/{{site_id}}/usage", usage),
        web.get(f"{PREFIX}/state/{{state}}/renewables/current", renewables),
    ]
