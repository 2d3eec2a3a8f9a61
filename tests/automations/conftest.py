"""A simulator with a frozen clock, Django settings pointed at it, and a site linked to one of
its households (Amber token + Teslemetry key)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
import requests
from celery.contrib.testing.worker import start_worker
from kombu import Queue

from automations.models import AutomationState
from automations.reconcile import site_reconcile
from automations.routine import SyncOutcome
from automations.spike import SpikeCheck
from credentials.models import SiteCredentials
from devices.models import Site
from ops.devrun import simulator_environment
from powersync_site.celery import app as celery_app
from simulator import SimulatorThread
from tests.factories import SiteFactory

FROZEN_NOW = dt.datetime.fromisoformat("2025-06-28T16:24:00+10:00")


@pytest.fixture(scope="session")
def sim() -> Iterator[SimulatorThread]:
    thread = SimulatorThread(households=4, seed=11, speed=0.0).start()
    yield thread
    thread.stop()


def control(sim: SimulatorThread, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{sim.base_urls['control']}{path}"
    reply = (
        requests.post(url, json=body, timeout=5)
        if body is not None
        else requests.get(url, timeout=5)
    )
    reply.raise_for_status()
    return reply.json()


@pytest.fixture
def upstream(sim, settings):
    """Settings → simulator; normal scenario, no latency, clock frozen at the fixture's moment."""
    base = sim.base_urls["control"].removesuffix("/control")
    for name, value in simulator_environment(base).items():
        setattr(settings, name, value)
    control(sim, "/scenario", {"name": "normal"})
    control(sim, "/latency", {"amber_ms": 0, "tesla_ms": 0, "aemo_ms": 0})
    control(sim, "/clock", {"now": FROZEN_NOW.isoformat(), "speed": 0})
    # Limits are per token over real time and these tests share one household's tokens.
    control(sim, "/rate-limits", {"amber": {"enabled": False}, "teslemetry": {"enabled": False}})
    return sim


@pytest.fixture
def household_upstream(upstream) -> dict[str, Any]:
    return control(upstream, "/households?limit=1")["households"][0]


@pytest.fixture
def linked_site(household_upstream, fernet_keys) -> Site:
    h = household_upstream
    site = SiteFactory.create(
        amber_site_id=h["amber_site_id"],
        tesla_energy_site_id=str(h["energy_site_id"]),
        tesla_access=Site.TeslaAccess.TESLEMETRY,
        time_zone=h["time_zone"],
    )
    SiteCredentials.objects.create(
        site=site, amber_token=h["amber_token"], teslemetry_api_key=h["teslemetry_key"]
    )
    AutomationState.objects.create(site=site)
    return site


def tesla_history(sim: SimulatorThread, site: Site) -> list[dict[str, Any]]:
    return control(sim, f"/tesla/sites/{site.tesla_energy_site_id}/history")["history"]


@pytest.fixture
def new_tesla_writes(upstream, linked_site):
    """Callable: the writes the simulated Powerwall received since the test began."""
    seen = len(tesla_history(upstream, linked_site))
    return lambda: tesla_history(upstream, linked_site)[seen:]


def site_sync(
    *, site_id: int, reason: str, now: dt.datetime, due: dt.datetime | None = None
) -> SyncOutcome | None:
    """A sync as Beat's task asks for it: a reconcile that fetches prices now; its outcome."""
    return site_reconcile(site_id=site_id, routine=reason, now=now, due=due).sync


def _purge(queues: Sequence[str]) -> None:
    with celery_app.connection_for_write() as conn:
        for name in queues:
            Queue(name).bind(conn.default_channel).purge()


@contextmanager
def real_worker(queues: Sequence[str], *, concurrency: int = 4) -> Iterator[None]:
    """A real worker (threads pool, as deployed) on ``queues`` of the configured broker, in
    this process; the queues are emptied before and after, and the worker always stopped."""
    _purge(queues)
    # Celery's worker set-up takes over the root logger (level ERROR, its own handlers): give it
    # back, or a later test's caplog sees nothing (the suite must not depend on its order).
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        with start_worker(
            celery_app,
            pool="threads",
            concurrency=concurrency,
            perform_ping_check=False,
            queues=list(queues),
            shutdown_timeout=30,
        ):
            yield
    finally:
        _purge(queues)
        root.setLevel(level)
        root.handlers[:] = handlers


def spike_check(site: Site, rrp: str, *, minutes: int) -> str:
    """One spike check ``minutes`` after FROZEN_NOW, run by the site's reconcile (as
    tasks.spike.evaluate_site does); returns what the check did."""
    moment = FROZEN_NOW + dt.timedelta(minutes=minutes)
    result = site_reconcile(
        site_id=site.pk, check=SpikeCheck(Decimal(rrp), interval_end=moment), now=moment
    )
    assert result.checked is not None
    return result.checked.what
