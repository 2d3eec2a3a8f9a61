"""Tesla Fleet API, Teslemetry and Tesla OAuth as the simulator plays them."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

TOU_REQUEST = (
    Path(__file__).parents[1]
    / "fixtures"
    / "tesla"
    / "time_of_use_settings_request_globird_48x30min.json"
)
REDIRECT = "https://powersync.example/callback"


def _authorize(urls: dict[str, str], household: dict[str, Any], scope: str) -> str:
    reply = requests.get(
        f"{urls['tesla_auth']}/oauth2/v3/authorize",
        params={
            "response_type": "code",
            "client_id": household["tesla_client_id"],
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": "st-123",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert reply.status_code == 302
    location = urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st-123"]
    assert query["code"][0].startswith("NA_")
    return query["code"][0]


def _tokens(
    urls: dict[str, str],
    household: dict[str, Any],
    scope: str = "openid offline_access user_data energy_device_data energy_cmds",
) -> dict[str, Any]:
    code = _authorize(urls, household, scope)
    reply = requests.post(
        f"{urls['tesla_auth']}/oauth2/v3/token",
        data={
            "grant_type": "authorization_code",
            "client_id": household["tesla_client_id"],
            "client_secret": household["tesla_client_secret"],
            "code": code,
            "redirect_uri": REDIRECT,
            "audience": "https://fleet-api.prd.na.vn.cloud.tesla.com",
        },
        timeout=5,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def _refresh(urls: dict[str, str], household: dict[str, Any], token: str) -> requests.Response:
    return requests.post(
        f"{urls['tesla_auth']}/oauth2/v3/token",
        data={
            "grant_type": "refresh_token",
            "client_id": household["tesla_client_id"],
            "refresh_token": token,
        },
        timeout=5,
    )


def _fleet(urls: dict[str, str], token: str, method: str, path: str, **kwargs: Any):
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.request(
        method, f"{urls['tesla_fleet']}/api/1{path}", headers=headers, timeout=5, **kwargs
    )


def test_oauth_code_exchange_then_fleet_reads(urls, households):
    household = households[0]
    tokens = _tokens(urls, household)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 28800
    assert tokens["refresh_token"].startswith("NA_")
    access = tokens["access_token"]
    assert access.count(".") == 2  # a JWT, like Tesla's

    products = _fleet(urls, access, "GET", "/products").json()
    assert products["count"] == 1
    site = products["response"][0]
    assert site["energy_site_id"] == household["energy_site_id"]
    assert site["resource_type"] == "battery"

    site_id = household["energy_site_id"]
    info = _fleet(urls, access, "GET", f"/energy_sites/{site_id}/site_info").json()["response"]
    assert info["installation_time_zone"] == household["time_zone"]
    assert info["default_real_mode"] in ("autonomous", "self_consumption", "backup")
    assert info["components"]["customer_preferred_export_rule"] in (
        "battery_ok",
        "pv_only",
        "never",
    )
    assert "tariff_content_v2" in info

    live = _fleet(urls, access, "GET", f"/energy_sites/{site_id}/live_status").json()["response"]
    for key in (
        "solar_power",
        "battery_power",
        "load_power",
        "grid_power",
        "percentage_charged",
        "energy_left",
        "total_pack_energy",
        "grid_status",
        "island_status",
        "timestamp",
    ):
        assert key in live
    # Power balance: load = solar + battery (+ discharging) + grid (+ importing).
    balance = live["solar_power"] + live["battery_power"] + live["grid_power"]
    assert abs(balance - live["load_power"]) < 1
    assert live["timestamp"].endswith("+10:00")  # Brisbane or Sydney in June
    assert live["solar_power"] > 0  # 16:24 local in June: the sun is still up in QLD


def test_users_region_points_back_at_the_simulator(urls, households):
    access = _tokens(urls, households[0])["access_token"]
    reply = _fleet(urls, access, "GET", "/users/region").json()
    assert reply["response"]["fleet_api_base_url"] == urls["tesla_fleet"]


def test_commands_are_applied_and_recorded(urls, households):
    household = households[1]
    access = _tokens(urls, household)["access_token"]
    site_id = household["energy_site_id"]
    control = f"{urls['control']}/tesla/sites/{site_id}"
    before = len(requests.get(f"{control}/history", timeout=5).json()["history"])

    commands = [
        ("operation", {"default_real_mode": "self_consumption"}),
        ("backup", {"backup_reserve_percent": 35}),
        (
            "grid_import_export",
            {
                "customer_preferred_export_rule": "never",
                "disallow_charge_from_grid_with_solar_installed": True,
            },
        ),
        ("time_of_use_settings", json.loads(TOU_REQUEST.read_text())),
    ]
    for name, body in commands:
        reply = _fleet(urls, access, "POST", f"/energy_sites/{site_id}/{name}", json=body)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"response": {"code": 201, "message": "Updated"}}

    state = requests.get(control, timeout=5).json()
    assert state["operation_mode"] == "self_consumption"
    assert state["backup_reserve_percent"] == 35
    assert state["export_rule"] == "never"
    assert state["grid_charging"] is False
    tou = json.loads(TOU_REQUEST.read_text())["tou_settings"]["tariff_content_v2"]
    assert state["tariff_content_v2"] == tou
    assert state["tariff_updated_at"].startswith("2025-06-28T06:24:00")

    history = requests.get(f"{control}/history", timeout=5).json()["history"][before:]
    assert [h["command"] for h in history] == [name for name, _ in commands]
    assert [h["body"] for h in history] == [body for _, body in commands]
    assert all(h["accepted"] and h["via"] == "fleet" for h in history)
    assert all(h["at"].startswith("2025-06-28T06:24:00") for h in history)

    info = _fleet(urls, access, "GET", f"/energy_sites/{site_id}/site_info").json()["response"]
    assert info["tariff_content_v2"] == tou
    assert info["backup_reserve_percent"] == 35


def test_rejected_commands_change_nothing_but_are_recorded(urls, households):
    household = households[2]
    access = _tokens(urls, household)["access_token"]
    site_id = household["energy_site_id"]
    control = f"{urls['control']}/tesla/sites/{site_id}"
    before = requests.get(control, timeout=5).json()
    tou = json.loads(TOU_REQUEST.read_text())
    tou["tou_settings"]["tariff_content_v2"]["energy_charges"]["ALL"]["rates"]["0000"] = -0.1
    bad = [
        ("operation", {"default_real_mode": "turbo"}, 400),
        ("backup", {"backup_reserve_percent": 101}, 400),
        ("time_of_use_settings", tou, 400),
    ]
    for name, body, status in bad:
        reply = _fleet(urls, access, "POST", f"/energy_sites/{site_id}/{name}", json=body)
        assert reply.status_code == status
        assert reply.json()["response"] is None
        assert reply.json()["error"]
    not_json = _fleet(
        urls,
        access,
        "POST",
        f"/energy_sites/{site_id}/backup",
        data="x=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_json.status_code == 406
    after = requests.get(control, timeout=5).json()
    for key in ("operation_mode", "backup_reserve_percent", "tariff_content_v2"):
        assert after[key] == before[key]
    history = requests.get(f"{control}/history", timeout=5).json()["history"]
    assert [h["accepted"] for h in history[-3:]] == [False, False, False]


def test_fleet_auth_errors(urls, households):
    first, second = households[0], households[1]
    access = _tokens(urls, first)["access_token"]
    assert _fleet(urls, "garbage", "GET", "/products").status_code == 401
    assert requests.get(f"{urls['tesla_fleet']}/api/1/products", timeout=5).status_code == 401
    other_site = second["energy_site_id"]
    assert _fleet(urls, access, "GET", f"/energy_sites/{other_site}/site_info").status_code == 404
    # Missing scope: a token without energy_cmds cannot send commands.
    read_only = _tokens(urls, first, scope="openid offline_access energy_device_data")[
        "access_token"
    ]
    reply = _fleet(
        urls,
        read_only,
        "POST",
        f"/energy_sites/{first['energy_site_id']}/backup",
        json={"backup_reserve_percent": 50},
    )
    assert reply.status_code == 403
    # Expired tokens get Tesla's bare 401.
    requests.post(f"{urls['control']}/tesla/expire-tokens", timeout=5)
    expired = _fleet(urls, access, "GET", "/products")
    assert expired.status_code == 401
    assert expired.content == b""


def test_refresh_tokens_are_single_use(urls, households):
    household = households[3]
    first = _tokens(urls, household)
    second = _refresh(urls, household, first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reused = _refresh(urls, household, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["error"] == "login_required"
    # The new one works (once).
    assert _refresh(urls, household, second.json()["refresh_token"]).status_code == 200


def test_concurrent_refreshes_have_exactly_one_winner(urls, households):
    household = households[4]
    token = _tokens(urls, household)["refresh_token"]
    requests.post(f"{urls['control']}/latency", json={"tesla_auth_ms": 100}, timeout=5)
    barrier = threading.Barrier(4)
    codes: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        status = _refresh(urls, household, token).status_code
        with lock:
            codes.append(status)

    workers = [threading.Thread(target=attempt) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    requests.post(f"{urls['control']}/latency", json={"tesla_auth_ms": 0}, timeout=5)
    assert sorted(codes) == [200, 401, 401, 401]


def test_partner_token_and_registration(urls, households):
    household = households[0]
    reply = requests.post(
        f"{urls['tesla_auth']}/oauth2/v3/token",
        data={
            "grant_type": "client_credentials",
            "client_id": household["tesla_client_id"],
            "client_secret": household["tesla_client_secret"],
            "scope": "openid energy_device_data energy_cmds",
            "audience": "https://fleet-api.prd.na.vn.cloud.tesla.com",
        },
        timeout=5,
    )
    assert reply.status_code == 200
    partner = reply.json()["access_token"]
    assert "refresh_token" not in reply.json()
    registered = _fleet(
        urls, partner, "POST", "/partner_accounts", json={"domain": "powersync.example"}
    )
    assert registered.status_code == 200
    assert registered.json()["response"]["domain"] == "powersync.example"
    # A partner token is not a user token.
    assert _fleet(urls, partner, "GET", "/products").status_code == 403
    bad_secret = requests.post(
        f"{urls['tesla_auth']}/oauth2/v3/token",
        data={
            "grant_type": "client_credentials",
            "client_id": household["tesla_client_id"],
            "client_secret": "nope",
        },
        timeout=5,
    )
    assert bad_secret.status_code == 401


def test_teslemetry_key_metadata_and_rate_limit(urls, households):
    household = households[5]
    headers = {"Authorization": f"Bearer {household['teslemetry_key']}"}
    base = urls["teslemetry"]
    meta = requests.get(f"{base}/api/metadata", headers=headers, timeout=5).json()
    assert meta["region"] == "NA"
    assert "energy_cmds" in meta["scopes"]
    site_id = household["energy_site_id"]
    reply = requests.post(
        f"{base}/api/1/energy_sites/{site_id}/operation",
        headers=headers,
        json={"default_real_mode": "autonomous"},
        timeout=5,
    )
    assert reply.json() == {"response": {"code": 201, "message": "Updated"}}
    history = requests.get(f"{urls['control']}/tesla/sites/{site_id}/history", timeout=5).json()
    assert history["history"][-1]["via"] == "teslemetry"
    wrong = requests.get(
        f"{base}/api/1/products", headers={"Authorization": "Bearer tlm_x"}, timeout=5
    )
    assert wrong.status_code == 401

    requests.post(
        f"{urls['control']}/rate-limits",
        json={"teslemetry": {"enabled": True, "limit": 2, "window_s": 60}},
        timeout=5,
    )
    statuses = [
        requests.get(f"{base}/api/1/products", headers=headers, timeout=5) for _ in range(3)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert 0 < int(statuses[2].headers["Retry-After"]) <= 60


def test_calendar_history_day(urls, households):
    household = households[0]
    headers = {"Authorization": f"Bearer {household['teslemetry_key']}"}
    site_id = household["energy_site_id"]
    reply = requests.get(
        f"{urls['teslemetry']}/api/1/energy_sites/{site_id}/calendar_history",
        params={"kind": "energy", "period": "day", "time_zone": household["time_zone"]},
        headers=headers,
        timeout=5,
    ).json()["response"]
    assert reply["period"] == "day"
    series = reply["time_series"]
    assert series[0]["timestamp"] == "2025-06-28T00:00:00+10:00"
    assert len(series) == (16 * 60 + 24) // 5 + 1  # 5-minute buckets up to "now"
    assert sum(row["total_solar_generation"] for row in series) > 0
    for row in series:
        assert row["total_home_usage"] >= 0


def _authorize_with_pkce(urls: dict[str, str], household: dict[str, Any], challenge: str) -> str:
    reply = requests.get(
        f"{urls['tesla_auth']}/oauth2/v3/authorize",
        params={
            "response_type": "code",
            "client_id": household["tesla_client_id"],
            "redirect_uri": REDIRECT,
            "scope": "openid offline_access energy_device_data",
            "state": "st-pkce",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert reply.status_code == 302
    return parse_qs(urlsplit(reply.headers["Location"]).query)["code"][0]


def _exchange(
    urls: dict[str, str], household: dict[str, Any], code: str, verifier: str | None
) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": household["tesla_client_id"],
        "client_secret": household["tesla_client_secret"],
        "code": code,
        "redirect_uri": REDIRECT,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return requests.post(f"{urls['tesla_auth']}/oauth2/v3/token", data=form, timeout=5)


def test_pkce_code_needs_the_matching_verifier(urls, households):
    household = households[0]
    verifier = "v" * 43 + "-pkce-verifier"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    code = _authorize_with_pkce(urls, household, challenge.rstrip(b"=").decode())

    for wrong in (None, "w" * 43 + "-pkce-verifier"):
        reply = _exchange(urls, household, code, wrong)
        assert reply.status_code == 400
        assert reply.json()["error"] == "invalid_grant"
    # A refused verifier does not burn the code: the rightful client still gets its tokens.
    reply = _exchange(urls, household, code, verifier)
    assert reply.status_code == 200, reply.text
    assert reply.json()["refresh_token"].startswith("NA_")


def test_pkce_plain_method_is_refused(urls, households):
    reply = requests.get(
        f"{urls['tesla_auth']}/oauth2/v3/authorize",
        params={
            "response_type": "code",
            "client_id": households[0]["tesla_client_id"],
            "redirect_uri": REDIRECT,
            "state": "st-plain",
            "code_challenge": "x" * 43,
            "code_challenge_method": "plain",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"
