"""Amber live-price WebSocket at ``/amber-ws`` (stands for ``wss://api-ws.amber.com.au``).

Handshake: ``Authorization: Bearer <Amber token>``; 401 for an unknown token, 403 when the household
is flagged as not enabled for the alpha. Client sends
``{"service":"live-prices","action":"subscribe","data":{"siteId":...}}`` and gets an ack with
``status: 200`` (404 for a site the token cannot see). From then on a ``price-update`` with the
CurrentInterval of every channel goes out when each 5-minute interval starts
(``estimate: true``) and again when its price settles (``estimate: false``), and whenever the
control API forces a push.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from .core import SIM, Simulator
from .households import Household

PATH = "/amber-ws"
TICK_S = 0.1
log = logging.getLogger(__name__)


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    household: Household
    sites: set[str] = field(default_factory=set)


class LiveHub:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.connections: set[Connection] = set()
        self.sent = 0
        self._task: asyncio.Task[None] | None = None
        self._last_key: tuple[Any, ...] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, app: web.Application) -> None:
        # The baseline is taken now, not at the first tick: a clock change made within the first
        # tick after start-up must still push.
        self._last_key = self._key()
        self._task = asyncio.create_task(self._run())

    def _key(self) -> tuple[Any, ...]:
        return (self.sim.prices.now().key, self.sim.world.version)

    async def stop(self, app: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.drop(code=WSCloseCode.GOING_AWAY)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            key = self._key()
            if key != self._last_key:
                self._last_key = key
                await self.push()

    # -- pushing -------------------------------------------------------------------------------
    async def push(self, site_id: str | None = None) -> int:
        """Send a price-update to every subscription (or one site). Returns messages sent."""
        if "amber_ws" in self.sim.world.faults:
            return 0
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        prices_by_group: dict[tuple[str, int], str] = {}
        sent = 0
        for conn in list(self.connections):
            household = conn.household
            for site in conn.sites:
                if site_id is not None and site != site_id:
                    continue
                group = (household.region, household.interval_length)
                prices = prices_by_group.get(group)
                if prices is None:
                    prices = self.sim.prices.current_prices_json(*group)
                    prices_by_group[group] = prices
                message = (
                    '{"service":"live-prices","action":"price-update","data":{"siteId":"'
                    + site
                    + '","prices":'
                    + prices
                    + '},"timestamp":"'
                    + stamp
                    + '"}'
                )
                try:
                    await conn.ws.send_str(message)
                    sent += 1
                except (ConnectionError, RuntimeError):
                    self.connections.discard(conn)
        self.sent += sent
        return sent

    async def drop(
        self, site_id: str | None = None, code: int = WSCloseCode.SERVICE_RESTART
    ) -> int:
        dropped = 0
        for conn in list(self.connections):
            if site_id is not None and site_id not in conn.sites:
                continue
            self.connections.discard(conn)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code, message=b"dropped by simulator")
            dropped += 1
        return dropped

    def as_dict(self) -> dict[str, Any]:
        return {
            "connections": len(self.connections),
            "subscriptions": sum(len(c.sites) for c in self.connections),
            "messages_sent": self.sent,
        }


HUB: web.AppKey[LiveHub] = web.AppKey("amber_live_hub", LiveHub)


def _ack(status: int, site_id: Any, message: str | None = None) -> str:
    body: dict[str, Any] = {
        "service": "live-prices",
        "action": "subscribe",
        "status": status,
        "data": {"siteId": site_id},
    }
    if message:
        body["message"] = message
    return json.dumps(body)


async def handler(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    hub = request.app[HUB]
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    household = sim.households.by_amber_token(token) if token else None
    if household is None:
        raise web.HTTPUnauthorized(text="Unauthorized")
    if not sim.households.ws_enabled(household.index):
        raise web.HTTPForbidden(text="Forbidden")
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    conn = Connection(ws=ws, household=household)
    hub.connections.add(conn)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                payload = json.loads(msg.data)
            except ValueError:
                await ws.send_str(json.dumps({"status": 400, "message": "invalid JSON"}))
                continue
            if not isinstance(payload, dict) or payload.get("service") != "live-prices":
                await ws.send_str(json.dumps({"status": 400, "message": "unknown service"}))
                continue
            action = payload.get("action")
            data = payload.get("data")
            site_id = data.get("siteId") if isinstance(data, dict) else None
            owner = sim.households.by_amber_site_id(site_id) if isinstance(site_id, str) else None
            if action not in ("subscribe", "unsubscribe"):
                await ws.send_str(json.dumps({"status": 400, "message": "unknown action"}))
            elif owner is None or owner.index != household.index or not isinstance(site_id, str):
                await ws.send_str(_ack(404, site_id, "Site not found"))
            elif action == "subscribe":
                conn.sites.add(site_id)
                await ws.send_str(_ack(200, site_id))
            else:
                conn.sites.discard(site_id)
                await ws.send_str(
                    json.dumps(
                        {
                            "service": "live-prices",
                            "action": "unsubscribe",
                            "status": 200,
                            "data": {"siteId": site_id},
                        }
                    )
                )
    finally:
        hub.connections.discard(conn)
    return ws


def routes() -> list[web.RouteDef]:
    return [web.get(PATH, handler)]
