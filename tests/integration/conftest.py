"""Integration tests: the real provider clients against the running upstream simulator.

Each test module gets its own simulator (free loopback port, own thread, clock frozen). Before
every test the world is put back to a known state: normal scenario, no latency, rate limits off
(tests that need them switch them on) and the clock pinned at 2025-06-28 16:24 NEM time, the
moment the real Amber capture in tests/fixtures was taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import requests

from simulator import SimulatorThread

FROZEN_NOW = "2025-06-28T16:24:00+10:00"
HOUSEHOLDS = 8
SEED = 7


@dataclass(frozen=True)
class Sim:
    """The running simulator as tests see it: base URLs, households and the control API."""

    thread: SimulatorThread
    urls: dict[str, str]
    households: list[dict[str, Any]]

    @property
    def root(self) -> str:
        """``http://127.0.0.1:<port>``: what ``ops.devrun.simulator_environment`` expects."""
        return self.urls["control"].removesuffix("/control")

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        reply = requests.request(method, f"{self.urls['control']}{path}", json=body, timeout=10)
        reply.raise_for_status()
        return reply.json()

    def scenario(self, name: str, **params: Any) -> Any:
        return self.control("POST", "/scenario", {"name": name, **params})

    def set_clock(self, now: str) -> None:
        self.control("POST", "/clock", {"now": now, "speed": 0})

    def now(self) -> datetime:
        return datetime.fromisoformat(self.control("GET", "/clock")["now"])

    def household(self, index: int) -> dict[str, Any]:
        return self.households[index - 1]

    def household_with_interval(self, minutes: int) -> dict[str, Any]:
        for household in self.households:
            if household["interval_length"] == minutes:
                return household
        raise LookupError(f"no simulated household bills at {minutes} minutes")

    def tesla_history(self, energy_site_id: int, since_seq: int = 0) -> list[dict[str, Any]]:
        path = f"/tesla/sites/{energy_site_id}/history?since_seq={since_seq}"
        return list(self.control("GET", path)["history"])


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    with SimulatorThread(households=HOUSEHOLDS, seed=SEED, speed=0) as thread:
        reply = requests.get(
            f"{thread.base_urls['control']}/households", params={"limit": HOUSEHOLDS}, timeout=10
        )
        reply.raise_for_status()
        yield Sim(thread=thread, urls=dict(thread.base_urls), households=reply.json()["households"])


@pytest.fixture(autouse=True)
def _normal_world(sim: Sim) -> Iterator[None]:
    _reset(sim)
    yield
    _reset(sim)


def _reset(sim: Sim) -> None:
    sim.scenario("normal")
    sim.control("POST", "/latency", {"amber_ms": 0, "tesla_ms": 0, "aemo_ms": 0})
    sim.control(
        "POST",
        "/rate-limits",
        {
            "amber": {"enabled": False, "limit": 50, "window_s": 300},
            "teslemetry": {"enabled": False, "limit": 30, "window_s": 60},
        },
    )
    sim.set_clock(FROZEN_NOW)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as shared:
        yield shared
