"""One simulator for the whole package, on a free loopback port, with a frozen clock.

Each test starts from the same state: normal scenario, no latency, rate limits off (the rate-limit
tests switch them on), and the clock frozen at 2025-06-28 16:24 NEM time, the moment the real Amber
fixture was captured.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from simulator import SimulatorThread

FROZEN_NOW = "2025-06-28T16:24:00+10:00"
HOUSEHOLDS = 12


@pytest.fixture(scope="session")
def sim_thread() -> Iterator[SimulatorThread]:
    thread = SimulatorThread(households=HOUSEHOLDS, seed=7, speed=0.0).start()
    yield thread
    thread.stop()


@pytest.fixture(scope="session")
def urls(sim_thread: SimulatorThread) -> dict[str, str]:
    return sim_thread.base_urls


@pytest.fixture(scope="session")
def households(urls: dict[str, str]) -> list[dict[str, Any]]:
    reply = requests.get(f"{urls['control']}/households", params={"limit": 100}, timeout=5)
    reply.raise_for_status()
    return reply.json()["households"]


@pytest.fixture(autouse=True)
def _reset(urls: dict[str, str]) -> None:
    control = urls["control"]
    requests.post(f"{control}/scenario", json={"name": "normal"}, timeout=5).raise_for_status()
    requests.post(
        f"{control}/latency", json={"amber_ms": 0, "tesla_ms": 0, "aemo_ms": 0}, timeout=5
    ).raise_for_status()
    requests.post(
        f"{control}/rate-limits",
        json={
            "amber": {"enabled": False, "limit": 50, "window_s": 300},
            "teslemetry": {"enabled": False, "limit": 30, "window_s": 60},
        },
        timeout=5,
    ).raise_for_status()
    requests.post(
        f"{control}/clock", json={"now": FROZEN_NOW, "speed": 0}, timeout=5
    ).raise_for_status()


def household_in(households: list[dict[str, Any]], region: str) -> dict[str, Any]:
    for household in households:
        if household["region"] == region:
            return household
    raise LookupError(f"no simulated household in {region}")
