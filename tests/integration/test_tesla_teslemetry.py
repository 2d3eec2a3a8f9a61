"""Tesla via Teslemetry: the real TeslaEnergyClient against the simulator, reads and commands."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from devices.providers.tesla import NotFound, TeslaEnergyClient
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.model import HalfHourRates
from tariffs.engine.tesla_format import render_half_hour_tariff

from .conftest import Sim

pytestmark = pytest.mark.integration


def teslemetry(sim: Sim, household: dict[str, Any], session: requests.Session) -> TeslaEnergyClient:
    return TeslaEnergyClient.for_teslemetry(
        access_token=household["teslemetry_key"],
        session=session,
        metadata_base_url=sim.urls["teslemetry"],
        region_url_template=sim.urls["teslemetry"],  # one base URL serves every region
    )


def sample_tariff() -> dict[str, Any]:
    """A real 48-half-hour dynamic tariff as the engine renders it (cheap midday, dear evening)."""
    buy = tuple(
        Decimal("0.1500")
        + Decimal("0.0125") * (i % 24)
        + (Decimal("0.3000") if 34 <= i < 42 else 0)
        for i in range(48)
    )
    sell = tuple(Decimal("0.0500") + Decimal("0.0050") * (i % 12) for i in range(48))
    rates = HalfHourRates(buy_dollars_per_kwh=buy, sell_dollars_per_kwh=sell)
    return render_half_hour_tariff(rates, plan_name="PowerSync Amber", utility="Amber Electric")


def test_teslemetry_reads_parse(sim: Sim, session: requests.Session) -> None:
    household = sim.household(4)
    site_id = household["energy_site_id"]
    client = teslemetry(sim, household, session)
    assert client.base_url == sim.urls["teslemetry"]

    (product,) = client.products()
    assert product.energy_site_id == site_id
    assert product.site_name == household["site_name"]
    assert product.has_battery
    assert product.has_solar
    assert product.has_grid
    assert product.total_pack_energy_wh == 13500 * household["battery_count"]
    assert product.battery_percent is not None
    assert 0 <= product.battery_percent <= 100

    info = client.site_info(site_id)
    assert info.installation_time_zone == household["time_zone"]
    assert info.battery_count == household["battery_count"] == len(info.batteries)
    assert info.nameplate_energy_wh == 13500 * household["battery_count"]
    assert info.operation_mode in {"autonomous", "self_consumption", "backup"}
    assert info.export_rule in {"never", "pv_only", "battery_ok"}
    assert info.tou_capable is True
    assert info.tariff_content_v2 is not None

    live = client.live_status(site_id)
    assert live.timestamp.tzinfo is not None
    assert live.solar_power_w >= 0
    assert live.load_power_w >= 0
    # Tesla's sign conventions: load = solar + battery (+ discharging) + grid (+ importing).
    flows = live.solar_power_w + live.battery_power_w + live.grid_power_w
    assert abs(live.load_power_w - flows) <= 5
    assert live.battery_percent is not None

    history = client.calendar_history(site_id, period="day", time_zone=household["time_zone"])
    assert history.period == "day"
    assert history.installation_time_zone == household["time_zone"]
    # Pinned at 16:24 AEST (06:24 UTC): 5-minute buckets from local midnight to the one in
    # progress (06:20 UTC).
    assert household["time_zone"] == "Australia/Brisbane"  # UTC+10, like NEM time
    assert len(history.points) == 16 * 12 + 5
    stamps = [p.timestamp for p in history.points]
    assert all(s.tzinfo is not None and s.utcoffset() == timedelta(0) for s in stamps)
    assert all(b - a == timedelta(minutes=5) for a, b in itertools.pairwise(stamps))
    local = ZoneInfo(household["time_zone"])
    assert stamps[0] == datetime(2025, 6, 28, tzinfo=local).astimezone(UTC)
    assert stamps[-1] == datetime(2025, 6, 28, 6, 20, tzinfo=UTC)
    assert sum(p.solar_generation_wh for p in history.points) > 0
    assert all(p.home_usage_wh >= 0 for p in history.points)


def test_commands_reach_the_battery_and_read_back(sim: Sim, session: requests.Session) -> None:
    household = sim.household(5)
    site_id = household["energy_site_id"]
    client = teslemetry(sim, household, session)
    since = max((e["seq"] for e in sim.tesla_history(site_id)), default=0)
    tariff = sample_tariff()

    results = [
        client.set_operation_mode(site_id, "self_consumption"),
        client.set_backup_reserve(site_id, 35),
        client.set_grid_import_export(site_id, export_rule="pv_only", disallow_grid_charging=True),
        client.set_time_of_use_settings(site_id, tariff),
        client.set_operation_mode(site_id, "autonomous"),
    ]

    assert all(r.result for r in results)
    assert {r.http_status for r in results} == {200}
    history = sim.tesla_history(site_id, since_seq=since)
    assert [(e["command"], e["status"], e["accepted"], e["via"]) for e in history] == [
        ("operation", 200, True, "teslemetry"),
        ("backup", 200, True, "teslemetry"),
        ("grid_import_export", 200, True, "teslemetry"),
        ("time_of_use_settings", 200, True, "teslemetry"),
        ("operation", 200, True, "teslemetry"),
    ]
    assert [e["body"] for e in history] == [
        {"default_real_mode": "self_consumption"},
        {"backup_reserve_percent": 35},
        {
            "customer_preferred_export_rule": "pv_only",
            "disallow_charge_from_grid_with_solar_installed": True,
        },
        {"tou_settings": {"tariff_content_v2": json.loads(json.dumps(tariff))}},
        {"default_real_mode": "autonomous"},
    ]

    info = client.site_info(site_id)
    assert info.operation_mode == "autonomous"
    assert info.backup_reserve_percent == 35
    assert info.export_rule == "pv_only"
    assert info.disallow_grid_charging is True
    assert info.tariff_content_v2 is not None
    assert tariff_fingerprint(info.tariff_content_v2) == tariff_fingerprint(tariff)
    state = sim.control("GET", f"/tesla/sites/{site_id}")
    assert state["tariff_updated_at"] is not None
    assert tariff_fingerprint(state["tariff_content_v2"]) == tariff_fingerprint(tariff)


def test_another_households_site_is_not_found(sim: Sim, session: requests.Session) -> None:
    client = teslemetry(sim, sim.household(4), session)
    with pytest.raises(NotFound):
        client.site_info(sim.household(5)["energy_site_id"])
