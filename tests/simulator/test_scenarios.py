"""Scenarios, latency and the clock, switched at run time through the control API."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from .conftest import household_in


def _scenario(urls: dict[str, str], **body: Any) -> requests.Response:
    return requests.post(f"{urls['control']}/scenario", json=body, timeout=5)


def _current_general(urls, household) -> list[dict[str, Any]]:
    rows = requests.get(
        f"{urls['amber']}/sites/{household['amber_site_id']}/prices/current",
        params={"resolution": 5},
        headers={"Authorization": f"Bearer {household['amber_token']}"},
        timeout=5,
    ).json()
    return rows


def _aemo(urls) -> dict[str, Any]:
    return requests.get(f"{urls['aemo']}/aemo/apps/api/report/ELEC_NEM_SUMMARY", timeout=5).json()


def test_aemo_spike_in_one_region(urls, households):
    household = household_in(households, "NSW1")
    other = household_in(households, "QLD1")
    reply = _scenario(urls, name="aemo_spike", region="NSW1", rrp=5000)
    assert reply.status_code == 200
    assert reply.json()["name"] == "aemo_spike"
    prices = {row["REGIONID"]: row["PRICE"] for row in _aemo(urls)["ELEC_NEM_SUMMARY"]}
    assert prices["NSW1"] >= 5000
    assert prices["QLD1"] < 300
    general, feed_in = _current_general(urls, household)
    assert general["spikeStatus"] == "spike"
    assert general["descriptor"] == "spike"
    assert general["spotPerKwh"] >= 550  # 5000 $/MWh ex GST = 550 c/kWh incl. GST
    assert feed_in["perKwh"] < -400  # exporting into a spike earns a lot
    assert _current_general(urls, other)[0]["spikeStatus"] == "none"
    assert _aemo(urls)["ELEC_NEM_SUMMARY_MARKET_NOTICE"]

    _scenario(urls, name="normal")
    assert _current_general(urls, household)[0]["spikeStatus"] == "none"


def test_negative_feed_in_at_midday(urls, households):
    household = households[0]
    requests.post(f"{urls['control']}/clock", json={"now": "2025-06-28T12:02:00+10:00"}, timeout=5)
    _scenario(urls, name="negative_feed_in")
    general, feed_in = _current_general(urls, household)
    assert feed_in["channelType"] == "feedIn"
    assert feed_in["perKwh"] > 0  # the household would pay to export
    assert general["spotPerKwh"] < 0
    requests.post(f"{urls['control']}/clock", json={"now": "2025-06-28T18:02:00+10:00"}, timeout=5)
    assert _current_general(urls, household)[1]["perKwh"] < 0  # evening: normal again


def test_unknown_scenario_is_rejected(urls):
    assert _scenario(urls, name="meteor").status_code == 400
    assert _scenario(urls, name="aemo_spike", region="WA1").status_code == 400


@pytest.mark.parametrize(
    ("name", "expected_offset_before", "expected_offset_after"),
    [("dst_forward", "+10:00", "+11:00"), ("dst_back", "+11:00", "+10:00")],
)
def test_dst_days(urls, households, name, expected_offset_before, expected_offset_after):
    household = household_in(households, "NSW1")
    _scenario(urls, name=name, speed=0)
    headers = {"Authorization": f"Bearer {household['teslemetry_key']}"}
    site = household["energy_site_id"]
    live_url = f"{urls['teslemetry']}/api/1/energy_sites/{site}/live_status"
    before = requests.get(live_url, headers=headers, timeout=5).json()["response"]["timestamp"]
    assert before.endswith(expected_offset_before)
    clock = requests.get(f"{urls['control']}/clock", timeout=5).json()
    two_hours_on = datetime.fromisoformat(clock["now"]) + timedelta(hours=2)
    requests.post(f"{urls['control']}/clock", json={"now": two_hours_on.isoformat()}, timeout=5)
    after = requests.get(live_url, headers=headers, timeout=5).json()["response"]["timestamp"]
    assert after.endswith(expected_offset_after)


def test_amber_outage(urls, households):
    household = households[0]
    _scenario(urls, name="amber_outage")
    reply = requests.get(
        f"{urls['amber']}/sites",
        headers={"Authorization": f"Bearer {household['amber_token']}"},
        timeout=5,
    )
    assert reply.status_code == 503
    # Other services are unaffected.
    assert (
        requests.get(f"{urls['aemo']}/aemo/apps/api/report/ELEC_NEM_SUMMARY", timeout=5).status_code
        == 200
    )


def test_tesla_429_and_offline(urls, households):
    household = households[0]
    headers = {"Authorization": f"Bearer {household['teslemetry_key']}"}
    base = f"{urls['teslemetry']}/api/1"
    site = household["energy_site_id"]
    _scenario(urls, name="tesla_429", retry_after=42)
    limited = requests.get(f"{base}/products", headers=headers, timeout=5)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "42"
    assert limited.json()["response"] is None

    _scenario(urls, name="tesla_offline")
    assert requests.get(f"{base}/products", headers=headers, timeout=5).status_code == 200
    offline = requests.get(f"{base}/energy_sites/{site}/live_status", headers=headers, timeout=5)
    assert offline.status_code == 408
    before = len(
        requests.get(f"{urls['control']}/tesla/sites/{site}/history", timeout=5).json()["history"]
    )
    command = requests.post(
        f"{base}/energy_sites/{site}/backup",
        headers=headers,
        json={"backup_reserve_percent": 80},
        timeout=5,
    )
    assert command.status_code == 408
    after = requests.get(f"{urls['control']}/tesla/sites/{site}/history", timeout=5).json()
    assert len(after["history"]) == before  # the battery never saw it


def test_timeouts_hang_then_504(urls, households):
    _scenario(urls, name="timeouts", hang_s=0.4, services=["aemo"])
    url = f"{urls['aemo']}/aemo/apps/api/report/ELEC_NEM_SUMMARY"
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(url, timeout=(2, 0.1))
    started = time.monotonic()
    assert requests.get(url, timeout=5).status_code == 504
    assert time.monotonic() - started >= 0.35


def test_malformed_json(urls, households):
    household = households[0]
    _scenario(urls, name="malformed_json")
    reply = requests.get(
        f"{urls['amber']}/sites",
        headers={"Authorization": f"Bearer {household['amber_token']}"},
        timeout=5,
    )
    assert reply.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.text)


def test_latency_per_service(urls, households):
    household = households[0]
    requests.post(f"{urls['control']}/latency", json={"amber_ms": 300}, timeout=5)
    started = time.monotonic()
    requests.get(
        f"{urls['amber']}/sites",
        headers={"Authorization": f"Bearer {household['amber_token']}"},
        timeout=5,
    )
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    requests.get(f"{urls['aemo']}/aemo/apps/api/report/ELEC_NEM_SUMMARY", timeout=5)
    assert time.monotonic() - started < 0.25
    assert (
        requests.post(f"{urls['control']}/latency", json={"foo_ms": 1}, timeout=5).status_code
        == 400
    )


def test_clock_speed(urls):
    control = urls["control"]
    requests.post(
        f"{control}/clock", json={"now": "2025-06-28T10:00:00+10:00", "speed": 600}, timeout=5
    )
    time.sleep(0.2)
    now = requests.get(f"{control}/clock", timeout=5).json()
    elapsed = datetime.fromisoformat(now["now"]) - datetime.fromisoformat(
        "2025-06-28T10:00:00+10:00"
    )
    assert 100 <= elapsed.total_seconds() <= 600
    assert (
        requests.post(
            f"{control}/clock", json={"now": "2025-06-28T10:00:00"}, timeout=5
        ).status_code
        == 400
    )
