"""Simulator fault scenarios: every client maps the failure to its own typed exception.

The autouse fixture in conftest.py switches back to the normal scenario after each test.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from devices.providers import tesla
from pricing.providers import aemo, amber

from .conftest import Sim

pytestmark = pytest.mark.integration

SHORT_TIMEOUT_S = (2.0, 0.3)  # (connect, read)


def amber_client(sim: Sim, session: requests.Session, **kwargs: Any) -> amber.AmberClient:
    return amber.AmberClient(
        sim.household(1)["amber_token"], session=session, base_url=sim.urls["amber"], **kwargs
    )


def tesla_client(sim: Sim, session: requests.Session, **kwargs: Any) -> tesla.TeslaEnergyClient:
    return tesla.TeslaEnergyClient(
        access_token=sim.household(6)["teslemetry_key"],
        session=session,
        base_url=sim.urls["teslemetry"],
        **kwargs,
    )


def test_tesla_429_is_rate_limited_with_retry_after(sim: Sim, session: requests.Session) -> None:
    sim.scenario("tesla_429", retry_after=17)
    site_id = sim.household(6)["energy_site_id"]
    client = tesla_client(sim, session)

    with pytest.raises(tesla.RateLimited) as caught:
        client.site_info(site_id)
    assert caught.value.http_status == 429
    assert caught.value.retry_after_s == 17.0
    assert caught.value.retryable
    with pytest.raises(tesla.RateLimited):
        client.set_backup_reserve(site_id, 50)
    # A fault stops the request before it reaches the battery.
    assert [e["command"] for e in sim.tesla_history(site_id)] == []


def test_teslemetry_own_rate_limit_is_rate_limited(sim: Sim, session: requests.Session) -> None:
    sim.control(
        "POST", "/rate-limits", {"teslemetry": {"enabled": True, "limit": 2, "window_s": 30}}
    )
    client = tesla_client(sim, session)
    client.products()
    client.products()
    with pytest.raises(tesla.RateLimited) as caught:
        client.products()
    assert caught.value.retry_after_s is not None
    assert 0 < caught.value.retry_after_s <= 30


def test_tesla_offline_is_device_offline(sim: Sim, session: requests.Session) -> None:
    sim.scenario("tesla_offline")
    site_id = sim.household(6)["energy_site_id"]
    client = tesla_client(sim, session)

    with pytest.raises(tesla.DeviceOffline) as caught:
        client.live_status(site_id)
    assert caught.value.http_status == 408
    assert caught.value.retryable
    with pytest.raises(tesla.DeviceOffline):
        client.set_operation_mode(site_id, "autonomous")
    assert [p.energy_site_id for p in client.products()] == [site_id]  # account calls still work


def test_amber_outage_is_unavailable(sim: Sim, session: requests.Session) -> None:
    sim.scenario("amber_outage")
    household = sim.household(1)
    with pytest.raises(amber.Unavailable) as caught:
        amber_client(sim, session).get_current_prices(household["amber_site_id"])
    assert caught.value.status_code == 503


def test_malformed_json_is_invalid_response(sim: Sim, session: requests.Session) -> None:
    sim.scenario("malformed_json")
    with pytest.raises(amber.InvalidResponse):
        amber_client(sim, session).get_current_prices(sim.household(1)["amber_site_id"])
    with pytest.raises(aemo.InvalidResponse):
        aemo.AemoClient(session=session, base_url=sim.urls["aemo"]).get_current_prices()
    with pytest.raises(tesla.InvalidResponse):
        tesla_client(sim, session).site_info(sim.household(6)["energy_site_id"])


def test_timeouts_are_unavailable_with_a_short_read_timeout(
    sim: Sim, session: requests.Session
) -> None:
    sim.scenario("timeouts", hang_s=1)
    with pytest.raises(amber.Unavailable, match="timed out"):
        amber_client(sim, session, timeout_s=SHORT_TIMEOUT_S).list_sites()
    with pytest.raises(aemo.Unavailable, match="timed out"):
        aemo.AemoClient(
            session=session, base_url=sim.urls["aemo"], timeout_s=SHORT_TIMEOUT_S
        ).get_price_series()
    with pytest.raises(tesla.Unavailable, match="timed out") as caught:
        tesla_client(sim, session, timeout=SHORT_TIMEOUT_S).products()
    assert caught.value.http_status is None
