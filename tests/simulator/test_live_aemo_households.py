"""Amber live WebSocket, AEMO reports and the household directory."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from simulator import SimulatorThread


def _ws(urls: dict[str, str], token: str):
    return connect(
        urls["amber_ws"], additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5
    )


def _subscribe(ws, site_id: str) -> dict[str, Any]:
    ws.send(
        json.dumps({"service": "live-prices", "action": "subscribe", "data": {"siteId": site_id}})
    )
    return json.loads(ws.recv(timeout=5))


def test_websocket_subscribe_ack_and_forced_update(urls, households):
    household = households[0]
    with _ws(urls, household["amber_token"]) as ws:
        ack = _subscribe(ws, household["amber_site_id"])
        assert ack["service"] == "live-prices"
        assert ack["action"] == "subscribe"
        assert ack["status"] == 200
        sent = requests.post(
            f"{urls['control']}/amber-ws/push",
            json={"site_id": household["amber_site_id"]},
            timeout=5,
        ).json()
        assert sent["sent"] == 1
        update = json.loads(ws.recv(timeout=5))
    assert update["service"] == "live-prices"
    assert update["action"] == "price-update"
    assert "timestamp" in update
    assert update["data"]["siteId"] == household["amber_site_id"]
    prices = update["data"]["prices"]
    assert [p["channelType"] for p in prices] == ["general", "feedIn"]
    assert all(p["type"] == "CurrentInterval" and "estimate" in p for p in prices)
    assert {p["duration"] for p in prices} == {household["interval_length"]}


def test_websocket_pushes_when_the_interval_starts_and_settles(urls, households):
    household = households[1]
    control = urls["control"]
    requests.post(
        f"{control}/clock", json={"now": "2025-06-28T09:59:58+10:00", "speed": 10}, timeout=5
    )
    with _ws(urls, household["amber_token"]) as ws:
        assert _subscribe(ws, household["amber_site_id"])["status"] == 200
        # A push for the interval ending 10:00 may come first (the clock just moved).
        first = json.loads(ws.recv(timeout=5))
        if first["data"]["prices"][0]["nemTime"] != "2025-06-28T10:05:00+10:00":
            first = json.loads(ws.recv(timeout=5))  # 10:00:00: new interval, estimated
        second = json.loads(ws.recv(timeout=8))  # 10:00:35: settled
    assert first["data"]["prices"][0]["nemTime"] == "2025-06-28T10:05:00+10:00"
    assert first["data"]["prices"][0]["estimate"] is True
    assert second["data"]["prices"][0]["estimate"] is False
    assert first["data"]["prices"][0]["startTime"] == second["data"]["prices"][0]["startTime"]


def test_websocket_rejections_and_drop(urls, households):
    household, other = households[2], households[3]
    with pytest.raises(InvalidStatus) as bad_token:
        _ws(urls, "psk_nope")
    assert bad_token.value.response.status_code == 401

    requests.post(
        f"{urls['control']}/households/{household['index']}",
        json={"amber_ws_enabled": False},
        timeout=5,
    )
    try:
        with pytest.raises(InvalidStatus) as not_enabled:
            _ws(urls, household["amber_token"])
        assert not_enabled.value.response.status_code == 403
    finally:
        requests.post(
            f"{urls['control']}/households/{household['index']}",
            json={"amber_ws_enabled": True},
            timeout=5,
        )

    with _ws(urls, household["amber_token"]) as ws:
        assert _subscribe(ws, other["amber_site_id"])["status"] == 404
        assert _subscribe(ws, household["amber_site_id"])["status"] == 200
        dropped = requests.post(f"{urls['control']}/amber-ws/drop", json={}, timeout=5).json()
        assert dropped["dropped"] >= 1
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)


def test_aemo_summary_shape(urls):
    body = requests.get(f"{urls['aemo']}/aemo/apps/api/report/ELEC_NEM_SUMMARY", timeout=5).json()
    assert set(body) == {
        "ELEC_NEM_SUMMARY",
        "ELEC_NEM_SUMMARY_PRICES",
        "ELEC_NEM_SUMMARY_MARKET_NOTICE",
    }
    rows = body["ELEC_NEM_SUMMARY"]
    assert [r["REGIONID"] for r in rows] == ["NSW1", "QLD1", "VIC1", "SA1", "TAS1"]
    for row in rows:
        # NEM time, no offset, interval END: the interval in progress at 16:24 ends 16:25.
        assert row["SETTLEMENTDATE"] == "2025-06-28T16:25:00"
        assert isinstance(row["PRICE"], float)
        assert row["PRICE_STATUS"] == "FIRM"
        assert isinstance(json.loads(row["INTERCONNECTORFLOWS"]), list)
        for key in (
            "APCFLAG",
            "MARKETSUSPENDEDFLAG",
            "TOTALDEMAND",
            "NETINTERCHANGE",
            "SCHEDULEDGENERATION",
            "SEMISCHEDULEDGENERATION",
        ):
            assert key in row
    assert {p["REGIONID"] for p in body["ELEC_NEM_SUMMARY_PRICES"]} == {r["REGIONID"] for r in rows}


def test_aemo_summary_agrees_with_amber_spot(urls, households):
    household = households[0]
    rows = requests.get(
        f"{urls['amber']}/sites/{household['amber_site_id']}/prices/current",
        params={"resolution": 5},
        headers={"Authorization": f"Bearer {household['amber_token']}"},
        timeout=5,
    ).json()
    summary = requests.get(
        f"{urls['aemo']}/aemo/apps/api/report/ELEC_NEM_SUMMARY", timeout=5
    ).json()["ELEC_NEM_SUMMARY"]
    rrp = next(r["PRICE"] for r in summary if r["REGIONID"] == household["region"])
    assert rows[0]["spotPerKwh"] == pytest.approx(rrp * 1.1 / 10, abs=1e-3)


def test_aemo_five_minute_report(urls):
    url = f"{urls['aemo']}/aemo/apps/api/report/5MIN"
    assert requests.post(url, timeout=5).status_code == 500  # needs the timeScale body
    rows = requests.post(url, json={"timeScale": ["30MIN"]}, timeout=5).json()["5MIN"]
    actual = [r for r in rows if r["PERIODTYPE"] == "ACTUAL" and r["REGIONID"] == "VIC1"]
    forecast = [r for r in rows if r["PERIODTYPE"] == "FORECAST" and r["REGIONID"] == "VIC1"]
    assert len(actual) == 288
    assert actual[-1]["SETTLEMENTDATE"] == "2025-06-28T16:25:00"
    assert forecast[0]["SETTLEMENTDATE"] == "2025-06-28T16:30:00"
    assert forecast[-1]["SETTLEMENTDATE"] == "2025-06-29T04:00:00"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00", r["SETTLEMENTDATE"]) for r in rows)


def test_households_paging(urls):
    page = requests.get(
        f"{urls['control']}/households", params={"offset": 10, "limit": 5}, timeout=5
    ).json()
    assert page["total"] == 12
    assert [h["index"] for h in page["households"]] == [11, 12]
    assert page["next_offset"] is None
    assert (
        requests.get(f"{urls['control']}/households", params={"limit": 0}, timeout=5).status_code
        == 400
    )


def test_ten_thousand_households_are_cheap_and_deterministic():
    with (
        SimulatorThread(households=10_000, seed=3, speed=0) as big,
        SimulatorThread(households=10_000, seed=3, speed=0) as twin,
    ):
        page = requests.get(
            f"{big.base_urls['control']}/households",
            params={"offset": 9_990, "limit": 10},
            timeout=5,
        ).json()
        again = requests.get(
            f"{twin.base_urls['control']}/households",
            params={"offset": 9_990, "limit": 10},
            timeout=5,
        ).json()
        assert page == again
        last = page["households"][-1]
        assert last["index"] == 10_000
        reply = requests.get(
            f"{big.base_urls['amber']}/sites",
            headers={"Authorization": f"Bearer {last['amber_token']}"},
            timeout=5,
        )
        assert reply.json()[0]["id"] == last["amber_site_id"]
        assert len({h["amber_site_id"] for h in page["households"]}) == 10


def test_a_clock_change_right_after_start_up_still_pushes() -> None:
    """Regression: the hub once took its first tick's clock as the baseline, so a change made
    within ~100 ms of start-up was never pushed."""
    import asyncio
    import json

    import requests
    import websockets

    from simulator import SimulatorThread

    with SimulatorThread(households=2, seed=3, speed=0) as sim:
        control = sim.base_urls["control"]
        requests.post(f"{control}/clock", json={"now": "2025-06-28T16:24:10+10:00"}, timeout=5)
        house = requests.get(f"{control}/households/1", timeout=5).json()

        async def scenario() -> str:
            headers = {"authorization": f"Bearer {house['amber_token']}"}
            async with websockets.connect(
                sim.base_urls["amber_ws"], additional_headers=headers
            ) as ws:
                subscribe = {"siteId": house["amber_site_id"]}
                await ws.send(
                    json.dumps({"service": "live-prices", "action": "subscribe", "data": subscribe})
                )
                await ws.recv()  # the ack
                await asyncio.to_thread(
                    requests.post,
                    f"{control}/clock",
                    json={"now": "2025-06-28T16:25:10+10:00"},
                    timeout=5,
                )
                return str(await asyncio.wait_for(ws.recv(), 5))

        message = json.loads(asyncio.run(scenario()))
    assert message["action"] == "price-update"
