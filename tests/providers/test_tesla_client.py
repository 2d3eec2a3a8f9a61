"""TeslaEnergyClient against recorded Tesla/Teslemetry payloads, with HTTP mocked by `responses`."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from devices.providers.tesla import (
    FLEET_API_EU,
    FLEET_API_NA,
    TRANSIENT_ERRORS,
    AuthFailed,
    ClientConfigError,
    CommandResult,
    DeviceOffline,
    InvalidResponse,
    MissingScope,
    NotFound,
    PartnerNotRegistered,
    PaymentRequired,
    RateLimited,
    RequestRejected,
    TeslaEnergyClient,
    TeslaError,
    TokenExpired,
    Unavailable,
    WrongRegion,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tesla"
TOKEN = "tok-SECRET-7f3a9c1e"
SITE = 123456
BASE = FLEET_API_NA
TIMEOUT = (3.0, 7.0)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def site_url(name: str, base: str = BASE) -> str:
    return f"{base}/api/1/energy_sites/{SITE}/{name}"


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def client() -> TeslaEnergyClient:
    return TeslaEnergyClient(access_token=TOKEN, session=requests.Session(), timeout=TIMEOUT)


# ----------------------------------------------------------------------------- reads


def test_products_returns_energy_sites_only(rsps, client):
    rsps.get(f"{BASE}/api/1/products", json=load("teslemetry_products.json"))

    sites = client.products()

    assert [s.energy_site_id for s in sites] == [123456, 98765]
    first, bare = sites
    assert first.site_name == "Energy Site"
    assert first.resource_type == "battery"
    assert first.gateway_id == "ABC123"
    assert (first.has_battery, first.has_solar, first.has_grid) == (True, True, True)
    assert first.battery_percent == pytest.approx(57.068192488868476)
    assert first.energy_left_wh == pytest.approx(23286.105263157893)
    assert first.total_pack_energy_wh == 40804
    assert first.battery_power_w == 14990
    assert (bare.has_battery, bare.site_name, bare.battery_percent) == (False, None, None)


def test_every_request_has_bearer_token_json_accept_and_explicit_timeout(rsps, client):
    rsps.get(f"{BASE}/api/1/products", json={"response": []})

    client.products()

    request = rsps.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.req_kwargs["timeout"] == TIMEOUT


@pytest.mark.parametrize(
    "fixture",
    [
        "teslemetry_site_info.json",
        "teslemetry_site_info_multi_season.json",
        "teslemetry_site_info_week_crossing.json",
        "tesla_fleet_site_info.json",
        "owner_api_site_info_solar_and_powerwalls.json",
        "site_info_tariff_content_v2_flow_power_au.json",
    ],
)
def test_site_info_parses_every_recorded_payload(rsps, client, fixture):
    payload = load(fixture)
    rsps.get(site_url("site_info"), json=payload)

    info = client.site_info(SITE)

    assert info.tariff_content_v2 == payload["response"].get("tariff_content_v2")
    assert info.operation_mode == payload["response"].get("default_real_mode")


def test_site_info_fleet_payload_fields(rsps, client):
    rsps.get(site_url("site_info"), json=load("tesla_fleet_site_info.json"))

    info = client.site_info(SITE)

    assert info.site_name == "Site"
    assert info.gateway_asset_id == "1233-abcd"
    assert info.installation_time_zone is None  # Tesla sent ""
    assert info.operation_mode == "self_consumption"
    assert info.backup_reserve_percent == 0
    assert info.export_rule == "pv_only"
    assert info.disallow_grid_charging is True
    assert info.tou_capable is True
    assert info.storm_mode_enabled is True
    assert info.battery_count == 2
    assert len(info.batteries) == 2
    assert info.batteries[0].part_name == "Powerwall 2"
    assert info.batteries[0].nameplate_energy_wh == 13500
    assert info.batteries[0].nameplate_max_charge_power_w == 5000
    assert info.batteries[0].nameplate_max_discharge_power_w == 5000
    assert info.nameplate_power_w == 15000
    assert info.nameplate_energy_wh == 40500
    assert info.firmware_version == "23.44.0 eb113390"
    assert info.tariff_content_v2 is None


def test_site_info_owner_payload_has_time_zone_and_no_export_rule(rsps, client):
    rsps.get(site_url("site_info"), json=load("owner_api_site_info_solar_and_powerwalls.json"))

    info = client.site_info(SITE)

    assert info.installation_time_zone == "America/Los_Angeles"
    assert info.backup_reserve_percent == 100
    assert info.export_rule is None
    assert info.disallow_grid_charging is None
    assert info.battery_count == 2
    assert info.batteries == ()


def test_site_info_tariff_is_returned_as_plain_dict(rsps, client):
    rsps.get(site_url("site_info"), json=load("site_info_tariff_content_v2_flow_power_au.json"))

    tariff = client.site_info(SITE).tariff_content_v2

    assert tariff is not None
    assert tariff["currency"] == "AUD"
    assert len(tariff["energy_charges"]["Summer"]["rates"]) == 48
    assert len(tariff["sell_tariff"]["energy_charges"]["Summer"]["rates"]) == 48


def test_site_info_reads_top_level_export_settings_when_components_lack_them(rsps, client):
    rsps.get(
        site_url("site_info"),
        json={
            "response": {
                "customer_preferred_export_rule": "battery_ok",
                "disallow_charge_from_grid_with_solar_installed": False,
                "components": {},
            }
        },
    )

    info = client.site_info(SITE)

    assert (info.export_rule, info.disallow_grid_charging) == ("battery_ok", False)


def test_live_status_teslemetry_payload(rsps, client):
    rsps.get(site_url("live_status"), json=load("teslemetry_live_status.json"))

    status = client.live_status(SITE)

    assert status.solar_power_w == 1185
    assert status.battery_power_w == 5060  # + = discharging
    assert status.grid_power_w == 0
    assert status.load_power_w == 6245
    assert status.battery_percent == pytest.approx(95.50537403739663)
    assert status.grid_status == "Active"
    assert status.island_status == "on_grid"
    assert status.storm_mode_active is False
    assert status.backup_capable is True
    assert status.timestamp == datetime(2024, 1, 1, tzinfo=UTC)
    assert status.timestamp.utcoffset() == timedelta(0)


def test_live_status_owner_payload_negative_grid_is_export(rsps, client):
    rsps.get(site_url("live_status"), json=load("owner_api_live_status_solar_only.json"))

    status = client.live_status(SITE)

    assert status.grid_power_w == pytest.approx(-3202.85009765625)
    assert status.solar_power_w == 7720
    assert status.load_power_w == pytest.approx(4517.14990234375)
    assert status.energy_left_wh == 0
    assert status.total_pack_energy_wh == 1
    assert status.generator_power_w == 0
    assert status.backup_capable is None
    assert status.timestamp == datetime(2022, 7, 28, 17, 11, 27, tzinfo=UTC)


def test_live_status_with_local_offset_is_converted_to_utc(rsps, client):
    payload = load("teslemetry_live_status.json")
    payload["response"]["timestamp"] = "2024-09-18T10:00:00+10:00"
    rsps.get(site_url("live_status"), json=payload)

    status = client.live_status(SITE)

    assert status.timestamp == datetime(2024, 9, 18, 0, 0, tzinfo=UTC)
    assert status.timestamp.tzinfo is UTC


def test_calendar_history_teslemetry_day_in_brisbane(rsps, client):
    rsps.get(site_url("calendar_history"), json=load("teslemetry_calendar_history_energy_day.json"))
    brisbane = timezone(timedelta(hours=10))

    history = client.calendar_history(
        SITE,
        period="day",
        start=datetime(2024, 9, 18, tzinfo=brisbane),
        end=datetime(2024, 9, 18, 23, 59, 59, tzinfo=brisbane),
        time_zone="Australia/Brisbane",
    )

    query = parse_qs(urlsplit(rsps.calls[0].request.url).query)
    assert query == {
        "kind": ["energy"],
        "period": ["day"],
        "start_date": ["2024-09-18T00:00:00+10:00"],
        "end_date": ["2024-09-18T23:59:59+10:00"],
        "time_zone": ["Australia/Brisbane"],
    }
    assert history.period == "day"
    assert history.installation_time_zone == "Australia/Brisbane"
    first, second = history.points
    assert first.timestamp == datetime(2024, 9, 17, 14, 0, tzinfo=UTC)
    assert first.battery_discharged_wh == 36
    assert first.home_usage_wh == 36
    assert first.home_from_battery_wh == 36
    assert first.solar_generation_wh == 0
    assert second.timestamp == datetime(2024, 9, 17, 22, 45, tzinfo=UTC)
    assert second.solar_generation_wh == 724
    assert second.battery_charged_wh == 684
    assert second.battery_charged_from_solar_wh == 684
    assert second.grid_exported_wh == 2
    assert second.home_usage_wh == 38


def test_calendar_history_fleet_payload_derives_totals(rsps, client):
    payload = load("tesla_fleet_calendar_history_energy.json")
    for row in payload["response"]["time_series"]:  # derive instead of reading the totals
        del row["total_home_usage"], row["total_grid_energy_exported"]
    rsps.get(site_url("calendar_history"), json=payload)

    history = client.calendar_history(SITE, period="week")

    assert parse_qs(urlsplit(rsps.calls[0].request.url).query) == {
        "kind": ["energy"],
        "period": ["week"],
    }
    point = history.points[0]
    assert point.timestamp == datetime(2023, 6, 1, 8, 0, tzinfo=UTC)
    assert point.home_usage_wh == 441 + 10480 + 10011  # the recorded total_home_usage: 20932
    assert point.grid_exported_wh == 43660 + 19  # the recorded total: 43679
    assert point.battery_charged_wh == 80 + 16800
    assert point.grid_imported_wh == 521
    assert point.solar_generation_wh == 70940
    assert history.installation_time_zone is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"period": "hour"},
        {"start": datetime(2024, 1, 1)},  # naive
        {"end": datetime(2024, 1, 1)},  # naive
    ],
)
def test_calendar_history_rejects_bad_arguments_without_calling(rsps, client, kwargs):
    with pytest.raises(ValueError, match=r"period|aware"):
        client.calendar_history(SITE, **kwargs)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("site_id", [0, -5, True, "123"])
def test_invalid_site_id_is_a_caller_error(rsps, client, site_id):
    with pytest.raises(ValueError, match="energy_site_id"):
        client.site_info(site_id)
    assert len(rsps.calls) == 0


# --------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, None, TokenExpired),
        (401, {"response": None, "error": "token expired (401)"}, TokenExpired),
        (401, {"response": None, "error": "invalid_token"}, AuthFailed),
        (401, {"response": None, "error": "login_required"}, AuthFailed),
        (402, {"response": None, "error": "insufficient_credits"}, PaymentRequired),
        (403, {"response": None, "error": "Unauthorized missing scopes"}, MissingScope),
        (404, {"response": None, "error": "not_found"}, NotFound),
        (408, {"response": None, "error": "device offline"}, DeviceOffline),
        (412, {"response": None, "error": "Unregistered account"}, PartnerNotRegistered),
        (422, {"response": None, "error": "invalid_resource"}, RequestRejected),
        (500, {"response": None, "error": "internal_error"}, Unavailable),
        (503, None, Unavailable),
        (504, None, Unavailable),
        (540, None, Unavailable),
    ],
)
def test_http_status_maps_to_one_typed_error(rsps, client, status, body, expected):
    rsps.get(site_url("live_status"), json=body, status=status)

    with pytest.raises(expected) as caught:
        client.live_status(SITE)

    assert caught.value.http_status == status
    assert isinstance(caught.value, TeslaError)
    assert caught.value.retryable == (expected in TRANSIENT_ERRORS)


def test_401_keeps_teslas_error_code_and_description(rsps, client):
    rsps.get(
        site_url("site_info"),
        status=401,
        json={"response": None, "error": "login_required", "error_description": "pw reset"},
    )

    with pytest.raises(AuthFailed) as caught:
        client.site_info(SITE)

    assert caught.value.error_code == "login_required"
    assert str(caught.value) == (
        f"GET /api/1/energy_sites/{SITE}/site_info: HTTP 401 login_required: pw reset"
    )


def test_403_missing_scope(rsps, client):
    rsps.post(site_url("operation"), status=403, json={"error": "Unauthorized missing scopes"})

    with pytest.raises(MissingScope):
        client.set_operation_mode(SITE, "autonomous")


def test_408_device_offline_is_retryable(rsps, client):
    rsps.post(site_url("backup"), status=408, body="")

    with pytest.raises(DeviceOffline) as caught:
        client.set_backup_reserve(SITE, 20)

    assert caught.value.retryable is True


def test_412_partner_not_registered(rsps, client):
    rsps.get(f"{BASE}/api/1/products", status=412, json={"error": "Unregistered account"})

    with pytest.raises(PartnerNotRegistered):
        client.products()


def test_421_discovers_the_correct_region(rsps, client):
    rsps.get(site_url("live_status"), status=421, json={"error": "user out of region"})
    rsps.get(
        f"{BASE}/api/1/users/region",
        json={"response": {"region": "eu", "fleet_api_base_url": FLEET_API_EU + "/"}},
    )

    with pytest.raises(WrongRegion) as caught:
        client.live_status(SITE)

    assert caught.value.correct_base_url == FLEET_API_EU
    assert caught.value.http_status == 421
    assert caught.value.retryable is False
    # The caller persists the URL and builds a client for it:
    assert client.with_base_url(caught.value.correct_base_url).base_url == FLEET_API_EU


def test_421_when_region_discovery_fails_carries_no_url(rsps, client):
    rsps.get(site_url("live_status"), status=421, body="")
    rsps.get(f"{BASE}/api/1/users/region", status=403, json={"error": "missing scope user_data"})

    with pytest.raises(WrongRegion) as caught:
        client.live_status(SITE)

    assert caught.value.correct_base_url is None


def test_421_without_discovery_makes_one_call(rsps):
    client = TeslaEnergyClient(
        access_token=TOKEN, session=requests.Session(), discover_region_on_421=False
    )
    rsps.get(site_url("live_status"), status=421, body="")

    with pytest.raises(WrongRegion) as caught:
        client.live_status(SITE)

    assert caught.value.correct_base_url is None
    assert len(rsps.calls) == 1


def test_discover_region(rsps, client):
    rsps.get(
        f"{BASE}/api/1/users/region",
        json={"response": {"region": "na", "fleet_api_base_url": FLEET_API_NA}},
    )

    region = client.discover_region()

    assert (region.region, region.base_url) == ("na", FLEET_API_NA)


def test_429_carries_retry_after_seconds(rsps, client):
    rsps.post(
        site_url("time_of_use_settings"),
        status=429,
        json={"error": "rate limited"},
        headers={"Retry-After": "37"},
    )

    with pytest.raises(RateLimited) as caught:
        client.set_time_of_use_settings(
            SITE,
            load("site_info_tariff_content_v2_flow_power_au.json")["response"]["tariff_content_v2"],
        )

    assert caught.value.retry_after_s == 37
    assert caught.value.retryable is True


def test_429_with_http_date_retry_after(rsps, client):
    when = datetime.now(UTC) + timedelta(seconds=120)
    rsps.get(
        f"{BASE}/api/1/products",
        status=429,
        body="",
        headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")},
    )

    with pytest.raises(RateLimited) as caught:
        client.products()

    assert caught.value.retry_after_s is not None
    assert 100 < caught.value.retry_after_s <= 120


@pytest.mark.parametrize("header", [None, "soon"])
def test_429_without_usable_retry_after(rsps, client, header):
    headers = {"Retry-After": header} if header else {}
    rsps.get(f"{BASE}/api/1/products", status=429, body="", headers=headers)

    with pytest.raises(RateLimited) as caught:
        client.products()

    assert caught.value.retry_after_s is None


def test_500_is_unavailable(rsps, client):
    rsps.get(site_url("site_info"), status=500, body="<html>oops</html>")

    with pytest.raises(Unavailable) as caught:
        client.site_info(SITE)

    assert caught.value.http_status == 500


def test_503_is_unavailable(rsps, client):
    rsps.post(site_url("operation"), status=503, json={"error": "timeout"})

    with pytest.raises(Unavailable):
        client.set_operation_mode(SITE, "self_consumption")


@pytest.mark.parametrize(
    "failure", [requests.ReadTimeout("read timed out"), requests.ConnectTimeout("connect")]
)
def test_timeout_is_unavailable(rsps, client, failure):
    rsps.get(site_url("live_status"), body=failure)

    with pytest.raises(Unavailable, match="timed out") as caught:
        client.live_status(SITE)

    assert caught.value.http_status is None


def test_connection_error_is_unavailable(rsps, client):
    rsps.get(site_url("live_status"), body=requests.ConnectionError("connection refused"))

    with pytest.raises(Unavailable, match="ConnectionError"):
        client.live_status(SITE)


def test_broken_transfer_is_unavailable(rsps, client):
    rsps.get(site_url("live_status"), body=requests.exceptions.ChunkedEncodingError("cut"))

    with pytest.raises(Unavailable):
        client.live_status(SITE)


def test_malformed_json_is_invalid_response(rsps, client):
    rsps.get(site_url("live_status"), body='{"response": {"solar_power": 1', status=200)

    with pytest.raises(InvalidResponse, match="not JSON"):
        client.live_status(SITE)


def test_missing_envelope_is_invalid_response(rsps, client):
    rsps.get(site_url("live_status"), json=load("teslemetry_live_status.json")["response"])

    with pytest.raises(InvalidResponse, match="envelope"):
        client.live_status(SITE)


def test_empty_body_on_200_is_invalid_response(rsps, client):
    rsps.get(site_url("site_info"), body="")

    with pytest.raises(InvalidResponse):
        client.site_info(SITE)


@pytest.mark.parametrize(
    ("endpoint", "payload"),
    [
        ("live_status", {"response": []}),
        ("live_status", {"response": {"solar_power": "1185", "timestamp": "2024-01-01T00:00:00Z"}}),
        ("live_status", {"response": {"solar_power": True}}),
        (
            "live_status",
            {
                "response": {
                    "solar_power": 1,
                    "battery_power": 1,
                    "grid_power": 1,
                    "load_power": 1,
                    "timestamp": "2024-01-01T00:00:00",  # naive
                }
            },
        ),
        ("site_info", {"response": {"tariff_content_v2": "x"}}),
        ("site_info", {"response": {"components": {"batteries": {}}}}),
        ("calendar_history", {"response": {"time_series": None}}),
    ],
)
def test_wrong_shape_is_invalid_response(rsps, client, endpoint, payload):
    rsps.get(site_url(endpoint), json=payload)

    with pytest.raises(InvalidResponse):
        getattr(client, endpoint)(SITE)


def test_products_wrong_shape(rsps, client):
    rsps.get(f"{BASE}/api/1/products", json={"response": {"energy_site_id": 1}})

    with pytest.raises(InvalidResponse):
        client.products()


def test_redirect_is_not_followed(rsps, client):
    rsps.get(f"{BASE}/api/1/products", status=302, headers={"Location": "https://evil.test/"})

    with pytest.raises(InvalidResponse):
        client.products()
    assert len(rsps.calls) == 1


def test_bad_base_url_is_a_config_error():
    client = TeslaEnergyClient(access_token=TOKEN, session=requests.Session(), base_url="nohost")

    with pytest.raises(ClientConfigError):
        client.products()


# ------------------------------------------------------------------------ commands


def test_set_operation_mode_body_and_result(rsps, client):
    rsps.post(site_url("operation"), json=load("energy_command_response_backup_201.json"))

    result = client.set_operation_mode(SITE, "autonomous")

    call = rsps.calls[0]
    assert sent_json(call) == {"default_real_mode": "autonomous"}
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.req_kwargs["timeout"] == TIMEOUT
    assert result == CommandResult(
        result=True, reason="Updated", http_status=200, latency_ms=result.latency_ms
    )
    assert result.latency_ms >= 0


@pytest.mark.parametrize("mode", ["self_consumption", "autonomous", "backup"])
def test_every_operation_mode_is_accepted(rsps, client, mode):
    rsps.post(site_url("operation"), json=load("energy_command_response_backup_201.json"))

    client.set_operation_mode(SITE, mode)

    assert sent_json(rsps.calls[0]) == {"default_real_mode": mode}


@pytest.mark.parametrize("mode", ["Autonomous", "time_based", ""])
def test_invalid_operation_mode_sends_nothing(rsps, client, mode):
    with pytest.raises(ValueError, match="mode"):
        client.set_operation_mode(SITE, mode)
    assert len(rsps.calls) == 0


def test_set_backup_reserve_body(rsps, client):
    rsps.post(site_url("backup"), status=201, json=load("energy_command_response_backup_201.json"))

    result = client.set_backup_reserve(SITE, 20)

    assert sent_json(rsps.calls[0]) == {"backup_reserve_percent": 20}
    assert (result.result, result.reason, result.http_status) == (True, "Updated", 201)


@pytest.mark.parametrize("percent", [0, 100])
def test_backup_reserve_bounds_are_inclusive(rsps, client, percent):
    rsps.post(site_url("backup"), json=load("energy_command_response_backup_201.json"))

    client.set_backup_reserve(SITE, percent)

    assert sent_json(rsps.calls[0]) == {"backup_reserve_percent": percent}


@pytest.mark.parametrize("percent", [-1, 101, 20.5, True, "20"])
def test_invalid_backup_reserve_sends_nothing(rsps, client, percent):
    with pytest.raises(ValueError, match="percent"):
        client.set_backup_reserve(SITE, percent)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        (
            {"export_rule": "never", "disallow_grid_charging": True},
            {
                "customer_preferred_export_rule": "never",
                "disallow_charge_from_grid_with_solar_installed": True,
            },
        ),
        ({"export_rule": "pv_only"}, {"customer_preferred_export_rule": "pv_only"}),
        ({"export_rule": "battery_ok"}, {"customer_preferred_export_rule": "battery_ok"}),
        (
            {"disallow_grid_charging": False},
            {"disallow_charge_from_grid_with_solar_installed": False},
        ),
    ],
)
def test_set_grid_import_export_body(rsps, client, kwargs, body):
    rsps.post(site_url("grid_import_export"), json=load("energy_command_response_backup_201.json"))

    client.set_grid_import_export(SITE, **kwargs)

    assert sent_json(rsps.calls[0]) == body


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"export_rule": "all"}, {"disallow_grid_charging": 1}, {"export_rule": None}],
)
def test_invalid_grid_import_export_sends_nothing(rsps, client, kwargs):
    with pytest.raises(ValueError, match=r"export_rule|disallow_grid_charging"):
        client.set_grid_import_export(SITE, **kwargs)
    assert len(rsps.calls) == 0


def test_time_of_use_settings_body_matches_real_request(rsps, client):
    recorded_request = load("time_of_use_settings_request_globird_48x30min.json")
    rsps.post(site_url("time_of_use_settings"), json={"response": {"result": True, "reason": ""}})

    result = client.set_time_of_use_settings(
        SITE, recorded_request["tou_settings"]["tariff_content_v2"]
    )

    assert sent_json(rsps.calls[0]) == recorded_request
    assert (result.result, result.reason) == (True, "")


def test_time_of_use_settings_wraps_the_tariff_read_from_site_info(rsps, client):
    tariff = load("site_info_tariff_content_v2_flow_power_au.json")["response"]["tariff_content_v2"]
    rsps.post(
        site_url("time_of_use_settings"), json=load("energy_command_response_backup_201.json")
    )

    client.set_time_of_use_settings(SITE, tariff)

    assert sent_json(rsps.calls[0]) == {"tou_settings": {"tariff_content_v2": tariff}}


def test_legacy_v1_tariff_is_refused_before_sending(rsps, client):
    legacy = load("owner_api_tariff_rate_v1_amber.json")["response"]

    with pytest.raises(ValueError, match="v1"):
        client.set_time_of_use_settings(SITE, legacy)
    assert len(rsps.calls) == 0


def test_non_finite_rate_is_refused_before_sending(rsps, client):
    tariff = load("site_info_tariff_content_v2_flow_power_au.json")["response"]["tariff_content_v2"]
    tariff["energy_charges"]["Summer"]["rates"]["PERIOD_17_00"] = float("nan")

    with pytest.raises(ValueError, match="JSON compliant"):
        client.set_time_of_use_settings(SITE, tariff)
    assert len(rsps.calls) == 0


def test_command_refused_by_tesla_is_a_false_result(rsps, client):
    rsps.post(
        site_url("operation"),
        json={"response": {"result": False, "reason": "site is in storm mode"}},
    )

    result = client.set_operation_mode(SITE, "backup")

    assert (result.result, result.reason) == (False, "site is in storm mode")


def test_command_answer_with_error_code_is_a_false_result(rsps, client):
    rsps.post(site_url("backup"), json={"response": {"code": 400, "message": "Bad value"}})

    result = client.set_backup_reserve(SITE, 5)

    assert (result.result, result.reason) == (False, "Bad value")


@pytest.mark.parametrize("payload", [{"response": {"ok": 1}}, {"response": None}, {"ok": True}])
def test_command_answer_of_unknown_shape_is_invalid(rsps, client, payload):
    rsps.post(site_url("operation"), json=payload)

    with pytest.raises(InvalidResponse):
        client.set_operation_mode(SITE, "autonomous")


# ----------------------------------------------------------------------- Teslemetry


def test_teslemetry_uses_the_metadata_region_for_every_call(rsps):
    rsps.get("https://api.teslemetry.com/api/metadata", json=load("teslemetry_metadata.json"))
    rsps.get(
        site_url("site_info", "https://na.teslemetry.com"), json=load("teslemetry_site_info.json")
    )

    client = TeslaEnergyClient.for_teslemetry(access_token=TOKEN, session=requests.Session())
    info = client.site_info(SITE)

    assert client.base_url == "https://na.teslemetry.com"
    assert info.battery_count == 3
    assert [c.request.headers["Authorization"] for c in rsps.calls] == [f"Bearer {TOKEN}"] * 2


def test_teslemetry_base_urls_are_configurable(rsps):
    sim = "http://127.0.0.1:8765/teslemetry"
    rsps.get(f"{sim}/api/metadata", json={"uid": "u", "region": "EU", "scopes": []})

    client = TeslaEnergyClient.for_teslemetry(
        access_token=TOKEN,
        session=requests.Session(),
        metadata_base_url=sim,
        region_url_template=sim + "/{region}",
    )

    assert client.base_url == f"{sim}/eu"


@pytest.mark.parametrize("region", ["na.evil.test", "", None, "N A"])
def test_teslemetry_rejects_a_region_that_is_not_a_code(rsps, region):
    rsps.get("https://api.teslemetry.com/api/metadata", json={"uid": "u", "region": region})

    with pytest.raises(InvalidResponse, match="region"):
        TeslaEnergyClient.for_teslemetry(access_token=TOKEN, session=requests.Session())


def test_teslemetry_metadata_fields(rsps, client):
    rsps.get(f"{BASE}/api/metadata", json=load("teslemetry_metadata.json"))

    metadata = client.teslemetry_metadata()

    assert metadata.uid == "abc-123"
    assert metadata.region == "NA"
    assert "energy_cmds" in metadata.scopes


def test_teslemetry_401_invalid_token(rsps):
    rsps.get("https://api.teslemetry.com/api/metadata", status=401, json={"error": "invalid_token"})

    with pytest.raises(AuthFailed):
        TeslaEnergyClient.for_teslemetry(access_token=TOKEN, session=requests.Session())


# ------------------------------------------------------------------------- secrecy


def _every_failure(rsps: responses.RequestsMock, client: TeslaEnergyClient) -> list[TeslaError]:
    """Drive each failure path with payloads that echo the token back at us."""
    echo = {"error": f"bad token {TOKEN}", "error_description": f"Bearer {TOKEN} refused"}
    rsps.get(site_url("live_status"), status=401, json=echo)
    rsps.get(site_url("live_status"), status=429, json=echo, headers={"Retry-After": "1"})
    rsps.get(site_url("live_status"), status=500, json=echo)
    rsps.get(site_url("live_status"), body=requests.ConnectionError(f"reset by {TOKEN}"))
    rsps.get(site_url("live_status"), body=requests.ReadTimeout(f"timeout {TOKEN}"))
    rsps.get(site_url("live_status"), status=421, json=echo)
    rsps.get(f"{BASE}/api/1/users/region", status=401, json=echo)
    errors = []
    for _ in range(6):
        with pytest.raises(TeslaError) as caught:
            client.live_status(SITE)
        errors.append(caught.value)
    return errors


def test_token_never_appears_in_logs_or_errors(rsps, client, caplog):
    caplog.set_level(logging.DEBUG)
    rsps.get(site_url("site_info"), json=load("teslemetry_site_info.json"))
    rsps.post(site_url("operation"), json=load("energy_command_response_backup_201.json"))

    client.site_info(SITE)
    client.set_operation_mode(SITE, "autonomous")
    errors = _every_failure(rsps, client)

    assert caplog.records, "the client should log its calls at DEBUG"
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(client)
    for error in errors:
        rendered = "".join(traceback.format_exception(error))
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)
        assert TOKEN not in (error.error_code or "")
        assert TOKEN not in rendered
        assert "requests" not in type(error).__module__


def test_token_with_invalid_characters_does_not_leak_through_header_errors(rsps, caplog):
    caplog.set_level(logging.DEBUG)
    bad_token = "tok-SECRET\nX-Injected: 1"
    client = TeslaEnergyClient(access_token=bad_token, session=requests.Session())

    with pytest.raises(ClientConfigError) as caught:
        client.products()

    rendered = "".join(traceback.format_exception(caught.value))
    assert "tok-SECRET" not in rendered
    assert "tok-SECRET" not in caplog.text
