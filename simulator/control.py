"""Control API under ``/control``: households, scenarios, clock, latency, rate limits, Tesla state.

Never subject to faults or latency. No authentication: the simulator binds to loopback only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from .amber_ws import HUB
from .core import SIM, Simulator, json_response
from .scenarios import SERVICES, ScenarioError, apply_scenario

PREFIX = "/control"


def _bad(message: str) -> web.Response:
    return json_response({"error": message}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text='{"error":"body is not JSON"}', content_type="application/json"
        ) from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error":"body must be an object"}', content_type="application/json"
        )
    return body


async def health(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return json_response(
        {
            "status": "ok",
            "households": sim.households.count,
            "seed": sim.config.seed,
            "scenario": sim.world.scenario,
            "clock": sim.clock.as_dict(),
            "base_urls": sim.base_urls,
        }
    )


async def stats(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return json_response(
        {
            "requests": sim.requests,
            "amber_ws": request.app[HUB].as_dict(),
            "tesla_sites_touched": len(sim.tesla.sites),
            "tesla_writes": sim.tesla.write_seq,
            "oauth": sim.tokens.stats,
        }
    )


async def households(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    try:
        offset = int(request.query.get("offset", 0))
        limit = int(request.query.get("limit", 100))
    except ValueError:
        return _bad("offset and limit must be integers")
    if offset < 0 or not 1 <= limit <= 1000:
        return _bad("offset >= 0 and 1 <= limit <= 1000")
    items = sim.households.page(offset, limit)
    nxt = offset + limit if offset + limit < sim.households.count else None
    return json_response(
        {
            "total": sim.households.count,
            "offset": offset,
            "limit": limit,
            "next_offset": nxt,
            "households": items,
        }
    )


def _household_index(request: web.Request, sim: Simulator) -> int:
    raw = request.match_info["index"]
    if not raw.isdigit() or not 1 <= int(raw) <= sim.households.count:
        raise web.HTTPNotFound(
            text='{"error":"no such household"}', content_type="application/json"
        )
    return int(raw)


async def household(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    index = _household_index(request, sim)
    return json_response(
        sim.households.get(index).public_dict(ws_enabled=sim.households.ws_enabled(index))
    )


async def household_update(request: web.Request) -> web.Response:
    """``{"amber_ws_enabled": false}`` makes the WebSocket handshake answer 403 for it."""
    sim = request.app[SIM]
    index = _household_index(request, sim)
    body = await _body(request)
    if "amber_ws_enabled" in body:
        if body["amber_ws_enabled"]:
            sim.households.ws_disabled.discard(index)
        else:
            sim.households.ws_disabled.add(index)
            site_id = sim.households.get(index).amber_site_id
            await request.app[HUB].drop(site_id)
    return await household(request)


async def scenario_get(request: web.Request) -> web.Response:
    return json_response(request.app[SIM].world.as_dict())


async def scenario_set(request: web.Request) -> web.Response:
    """``{"name": "...", ...params}`` (params may also be nested under "params")."""
    sim = request.app[SIM]
    body = await _body(request)
    name = body.pop("name", None)
    if not isinstance(name, str):
        return _bad("name is required")
    params = body.pop("params", None) or body
    try:
        apply_scenario(sim.world, sim.clock, name, params)
    except (ScenarioError, ValueError, TypeError) as exc:
        return _bad(str(exc))
    if "amber_ws" in sim.world.faults:
        await request.app[HUB].drop()
    return json_response(sim.world.as_dict())


async def latency(request: web.Request) -> web.Response:
    """``{"amber_ms": 150, "tesla_ms": 400, "aemo_ms": 0}`` (also amber_ws_ms, tesla_auth_ms)."""
    sim = request.app[SIM]
    if request.method == "POST":
        body = await _body(request)
        for key, value in body.items():
            service = key[:-3] if key.endswith("_ms") else key
            if service not in SERVICES:
                return _bad(f"unknown service {key!r}; use one of {[s + '_ms' for s in SERVICES]}")
            try:
                ms = float(value)
            except (TypeError, ValueError):
                return _bad(f"{key} must be a number")
            if ms < 0:
                return _bad(f"{key} must be >= 0")
            if ms:
                sim.world.latency_ms[service] = ms
            else:
                sim.world.latency_ms.pop(service, None)
    return json_response({f"{s}_ms": sim.world.latency_ms.get(s, 0) for s in SERVICES})


async def clock(request: web.Request) -> web.Response:
    """``{"now": ISO 8601 with offset}`` and/or ``{"speed": x}`` (0 freezes time)."""
    sim = request.app[SIM]
    if request.method == "POST":
        body = await _body(request)
        now = None
        if "now" in body:
            try:
                now = datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00"))
            except ValueError:
                return _bad("now must be ISO 8601")
            if now.tzinfo is None:
                return _bad("now must carry a UTC offset")
        speed = body.get("speed")
        try:
            sim.clock.set(now=now, speed=None if speed is None else float(speed))
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
    return json_response(sim.clock.as_dict())


async def rate_limits(request: web.Request) -> web.Response:
    """``{"amber": {"enabled": false}, "teslemetry": {"limit": 30, "window_s": 60}}``."""
    sim = request.app[SIM]
    limiters = {"amber": sim.amber_limiter, "teslemetry": sim.teslemetry_limiter}
    if request.method == "POST":
        body = await _body(request)
        for name, settings in body.items():
            if name not in limiters or not isinstance(settings, dict):
                return _bad(f"unknown limiter {name!r}; use amber or teslemetry")
            limiters[name].configure(
                enabled=settings.get("enabled"),
                limit=settings.get("limit"),
                window_s=settings.get("window_s"),
            )
    return json_response({name: limiter.as_dict() for name, limiter in limiters.items()})


def _tesla_site(request: web.Request, sim: Simulator) -> Any:
    raw = request.match_info["site_id"]
    owner = sim.households.by_energy_site_id(int(raw)) if raw.isdigit() else None
    if owner is None:
        raise web.HTTPNotFound(
            text='{"error":"no such energy site"}', content_type="application/json"
        )
    return sim.tesla.get(owner, sim.clock.timestamp())


async def tesla_site(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    site = _tesla_site(request, sim)
    sim.tesla.flows(site, sim.clock.timestamp())
    return json_response(site.control_dict())


async def tesla_history(request: web.Request) -> web.Response:
    """Every write to the site, oldest first; ``?command=`` filters, ``?since_seq=`` pages."""
    sim = request.app[SIM]
    site = _tesla_site(request, sim)
    command = request.query.get("command")
    since = int(request.query.get("since_seq", 0) or 0)
    items = [
        entry
        for entry in site.history
        if (command is None or entry["command"] == command) and entry["seq"] > since
    ]
    return json_response({"energy_site_id": site.household.energy_site_id, "history": items})


async def tesla_expire_tokens(request: web.Request) -> web.Response:
    """Every access token issued so far now gets Tesla's bare 401 (expired)."""
    sim = request.app[SIM]
    sim.tokens.generation += 1
    return json_response({"generation": sim.tokens.generation})


async def ws_push(request: web.Request) -> web.Response:
    body = await _body(request)
    sent = await request.app[HUB].push(body.get("site_id"))
    return json_response({"sent": sent})


async def ws_drop(request: web.Request) -> web.Response:
    body = await _body(request)
    dropped = await request.app[HUB].drop(body.get("site_id"))
    return json_response({"dropped": dropped})


async def ws_state(request: web.Request) -> web.Response:
    return json_response(request.app[HUB].as_dict())


def routes() -> list[web.RouteDef]:
    p = PREFIX
    return [
        web.get(f"{p}/health", health),
        web.get(f"{p}/stats", stats),
        web.get(f"{p}/households", households),
        web.get(f"{p}/households/{{index}}", household),
        web.post(f"{p}/households/{{index}}", household_update),
        web.get(f"{p}/scenario", scenario_get),
        web.post(f"{p}/scenario", scenario_set),
        web.get(f"{p}/latency", latency),
        web.post(f"{p}/latency", latency),
        web.get(f"{p}/clock", clock),
        web.post(f"{p}/clock", clock),
        web.get(f"{p}/rate-limits", rate_limits),
        web.post(f"{p}/rate-limits", rate_limits),
        web.get(f"{p}/tesla/sites/{{site_id}}", tesla_site),
        web.get(f"{p}/tesla/sites/{{site_id}}/history", tesla_history),
        web.post(f"{p}/tesla/expire-tokens", tesla_expire_tokens),
        web.get(f"{p}/amber-ws", ws_state),
        web.post(f"{p}/amber-ws/push", ws_push),
        web.post(f"{p}/amber-ws/drop", ws_drop),
    ]
