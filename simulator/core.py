"""The simulator's shared state, its configuration and small response helpers."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from .clock import SimClock
from .households import HouseholdDirectory
from .oauth import TokenService
from .prices import PriceModel
from .scenarios import World, apply_scenario
from .tesla_state import TeslaSites


@dataclass
class Config:
    households: int = 10
    seed: int = 1
    scenario: str = "normal"
    scenario_params: dict[str, Any] = field(default_factory=dict)
    now: datetime | None = None  # simulated start time; default: the real time
    speed: float = 1.0
    settle_s: float = 35.0  # Amber price "settles" this long after a 5-minute interval starts
    amber_rate_limit: bool = True
    amber_limit: int = 50
    amber_window_s: float = 300.0
    teslemetry_rate_limit: bool = True
    teslemetry_limit: int = 30
    teslemetry_window_s: float = 60.0
    require_partner_registration: bool = False


class WindowLimiter:
    """Fixed-window request counter per key, on real (monotonic) time."""

    def __init__(self, limit: int, window_s: float, enabled: bool = True) -> None:
        self.limit = limit
        self.window_s = window_s
        self.enabled = enabled
        self._buckets: dict[str, list[float]] = {}

    def hit(self, key: str) -> tuple[bool, int, int]:
        """(allowed, remaining, seconds until the window resets)."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket[0]:
            if len(self._buckets) > 100_000:
                self._buckets.clear()
            bucket = [now + self.window_s, 0.0]
            self._buckets[key] = bucket
        reset = max(1, math.ceil(bucket[0] - now))
        if bucket[1] >= self.limit:
            return False, 0, reset
        bucket[1] += 1
        return True, self.limit - int(bucket[1]), reset

    def configure(self, *, enabled: bool | None, limit: int | None, window_s: float | None) -> None:
        if enabled is not None:
            self.enabled = enabled
        if limit is not None:
            self.limit = limit
        if window_s is not None:
            self.window_s = window_s
        self._buckets.clear()

    def as_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "limit": self.limit, "window_s": self.window_s}


class Simulator:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = SimClock(now=config.now, speed=config.speed)
        self.world = World()
        self.households = HouseholdDirectory(config.households, config.seed)
        self.prices = PriceModel(self.world, self.clock, seed=config.seed, settle_s=config.settle_s)
        self.tesla = TeslaSites(self.households, config.seed)
        self.tokens = TokenService(config.seed)
        self.amber_limiter = WindowLimiter(
            config.amber_limit, config.amber_window_s, config.amber_rate_limit
        )
        self.teslemetry_limiter = WindowLimiter(
            config.teslemetry_limit, config.teslemetry_window_s, config.teslemetry_rate_limit
        )
        self.requests: dict[str, int] = {}
        self.base_urls: dict[str, str] = {}
        self.started_real = time.time()
        apply_scenario(self.world, self.clock, config.scenario, dict(config.scenario_params))


SIM: web.AppKey[Simulator] = web.AppKey("simulator", Simulator)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def raw_json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    token = header[7:].strip()
    return token or None
