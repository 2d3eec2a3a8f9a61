"""Scenarios: named, parameterised changes to the simulated world.

A scenario either overrides price data (spikes, negative feed-in), moves the clock (DST days) or
makes a service misbehave (faults). Switching scenario first resets everything to the normal day,
so only one scenario is in force at a time. Latency is separate and survives scenario switches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import SimClock
from .households import REGIONS

# Services as the fault/latency machinery sees them (one per URL prefix family).
SERVICES = ("amber", "amber_ws", "aemo", "tesla", "tesla_auth")


class ScenarioError(ValueError):
    pass


@dataclass(slots=True)
class Fault:
    """How a service misbehaves: ``status`` (error reply), ``hang`` (sleep, 504), ``malformed``."""

    kind: str
    status: int = 503
    retry_after: int | None = None
    hang_s: float = 30.0
    energy_sites_only: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "retry_after": self.retry_after,
            "hang_s": self.hang_s,
            "energy_sites_only": self.energy_sites_only,
        }


@dataclass(slots=True)
class SpikeWindow:
    region: str
    start_ts: float
    end_ts: float
    rrp_dollars_per_mwh: float


@dataclass(slots=True)
class NegativeFeedIn:
    regions: tuple[str, ...]
    start_minute: int  # NEM time of day, minutes
    end_minute: int
    spot_c_per_kwh: float  # incl. GST, negative


@dataclass
class World:
    scenario: str = "normal"
    params: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    spikes: list[SpikeWindow] = field(default_factory=list)
    negative_feed_in: NegativeFeedIn | None = None
    version: int = 0

    def bump(self) -> None:
        self.version += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.scenario,
            "params": self.params,
            "faults": {name: fault.as_dict() for name, fault in self.faults.items()},
            "latency_ms": self.latency_ms,
            "available": sorted(SCENARIOS),
        }


def _services(params: dict[str, Any], default: tuple[str, ...]) -> tuple[str, ...]:
    services = tuple(params.get("services", default))
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        raise ScenarioError(f"unknown services {unknown}; known: {list(SERVICES)}")
    return services


def _region(params: dict[str, Any], default: str) -> str:
    region = str(params.get("region", default)).upper()
    if region not in REGIONS:
        raise ScenarioError(f"unknown region {region!r}; known: {list(REGIONS)}")
    return region


def _when(params: dict[str, Any], key: str, default: datetime) -> datetime:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(f"{key} must be an ISO 8601 datetime") from exc
    if value.tzinfo is None:
        raise ScenarioError(f"{key} must carry a UTC offset")
    return value


def _normal(world: World, clock: SimClock, params: dict[str, Any]) -> None:
    return None


def _aemo_spike(world: World, clock: SimClock, params: dict[str, Any]) -> None:
    region = _region(params, "SA1")
    rrp = float(params.get("rrp", 5000.0))
    minutes = float(params.get("duration_minutes", 30))
    # Default: the spike starts with the 5-minute interval in progress, so it is "now".
    now = clock.timestamp()
    start = _when(params, "start", datetime.fromtimestamp(now - now % 300, clock.now().tzinfo))
    world.spikes.append(
        SpikeWindow(region, start.timestamp(), start.timestamp() + minutes * 60, rrp)
    )


def _negative_feed_in(world: World, clock: SimClock, params: dict[str, Any]) -> None:
    regions = params.get("regions")
    if regions is None:
        regions = [params["region"]] if "region" in params else list(REGIONS)
    for region in regions:
        if region not in REGIONS:
            raise ScenarioError(f"unknown region {region!r}")
    world.negative_feed_in = NegativeFeedIn(
        regions=tuple(regions),
        start_minute=int(params.get("start_hour", 10)) * 60,
        end_minute=int(params.get("end_hour", 15)) * 60,
        spot_c_per_kwh=-abs(float(params.get("spot_c_per_kwh", 6.0))),
    )


def _dst(default_iso: str) -> Callable[[World, SimClock, dict[str, Any]], None]:
    def apply(world: World, clock: SimClock, params: dict[str, Any]) -> None:
        when = _when(params, "now", datetime.fromisoformat(default_iso))
        speed = params.get("speed")
        clock.set(now=when, speed=None if speed is None else float(speed))

    return apply


def _fault(
    kind: str, default_services: tuple[str, ...], **defaults: Any
) -> Callable[[World, SimClock, dict[str, Any]], None]:
    def apply(world: World, clock: SimClock, params: dict[str, Any]) -> None:
        for service in _services(params, default_services):
            fault = Fault(kind=kind, **defaults)
            if "status" in params:
                fault.status = int(params["status"])
            if "retry_after" in params:
                fault.retry_after = int(params["retry_after"])
            if "hang_s" in params:
                fault.hang_s = float(params["hang_s"])
            world.faults[service] = fault

    return apply


SCENARIOS: dict[str, Callable[[World, SimClock, dict[str, Any]], None]] = {
    "normal": _normal,
    "aemo_spike": _aemo_spike,
    "negative_feed_in": _negative_feed_in,
    # 2025-10-05 02:00 AEST -> 03:00 AEDT in NSW/VIC/TAS/ACT (SA at the same instant).
    "dst_forward": _dst("2025-10-05T01:30:00+10:00"),
    # 2026-04-05 03:00 AEDT -> 02:00 AEST.
    "dst_back": _dst("2026-04-05T01:30:00+11:00"),
    "amber_outage": _fault("status", ("amber", "amber_ws"), status=503),
    "tesla_429": _fault("status", ("tesla",), status=429, retry_after=30),
    "tesla_offline": _fault("status", ("tesla",), status=408, energy_sites_only=True),
    "timeouts": _fault("hang", ("amber", "aemo", "tesla"), status=504, hang_s=30.0),
    "malformed_json": _fault("malformed", ("amber", "aemo", "tesla")),
}


def apply_scenario(world: World, clock: SimClock, name: str, params: dict[str, Any]) -> None:
    """Reset to the normal day, then apply ``name`` with ``params``. Raises ScenarioError."""
    if name not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {name!r}; known: {sorted(SCENARIOS)}")
    if not isinstance(params, dict):
        raise ScenarioError("params must be an object")
    new = World(latency_ms=world.latency_ms)
    SCENARIOS[name](new, clock, params)
    world.scenario = name
    world.params = dict(params)
    world.faults = new.faults
    world.spikes = new.spikes
    world.negative_feed_in = new.negative_feed_in
    world.bump()
