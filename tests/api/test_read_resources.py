from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from devices.models import EnergySample
from households.models import Event
from tests.api.conftest import error

pytestmark = pytest.mark.django_db


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


# --- households -------------------------------------------------------------------------------


def test_households_list_and_retrieve(api, world, other):
    response = api.get("/api/v1/households/")
    assert response.status_code == 200
    expected = {
        "id": world.household.pk,
        "name": world.household.name,
        "role": "owner",
        "site_ids": [world.site.pk, world.aemo_site.pk, world.custom_site.pk],
        "created_at": world.household.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert response.json() == {"count": 1, "next": None, "previous": None, "results": [expected]}
    assert api.get(f"/api/v1/households/{world.household.pk}/").json() == expected


# --- events -----------------------------------------------------------------------------------


def test_events_list_with_filters(api, world, other):
    spike = Event.objects.create(
        household=world.household,
        site=world.aemo_site,
        automation=Event.Automation.SPIKE,
        decision="Spike tariff pushed",
        outcome=Event.Outcome.FAILED,
    )
    body = api.get("/api/v1/events/").json()
    assert body["count"] == 2
    assert [e["id"] for e in body["results"]] == [spike.pk, world.event.pk]  # newest first
    assert body["results"][1] == {
        "id": world.event.pk,
        "household": world.household.pk,
        "site": world.site.pk,
        "automation": "tou_sync",
        "decision": "Pushed tariff",
        "reason": "prices changed",
        "outcome": "ok",
        "data": {},
        "created_at": world.event.created_at.isoformat().replace("+00:00", "Z"),
    }

    def ids(query: str) -> list[int]:
        response = api.get(f"/api/v1/events/?{query}")
        assert response.status_code == 200, response.json()
        return [e["id"] for e in response.json()["results"]]

    assert ids("automation=spike") == [spike.pk]
    assert ids("outcome=ok") == [world.event.pk]
    assert ids(f"site={world.site.pk}") == [world.event.pk]
    assert ids(f"site={other.site.pk}") == []  # another household's site matches nothing
    later = timezone.now() + dt.timedelta(minutes=1)
    assert ids(f"end={later.isoformat().replace('+', '%2B')}") == [spike.pk, world.event.pk]
    assert ids(f"start={later.isoformat().replace('+', '%2B')}") == []


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("automation=nope", "automation", '"nope" is not a valid choice.'),
        ("site=abc", "site", "A valid integer is required."),
        (
            "start=yesterday",
            "start",
            "Not an ISO 8601 date-time: use e.g. 2026-11-25T10:00:00+11:00.",
        ),
        (
            "start=2026-11-25T10:00:00",
            "start",
            "Give a UTC offset (e.g. +10:00 or Z): a time without one is ambiguous.",
        ),
        (
            "start=2026-11-25T10:00:00Z&end=2026-11-25T09:00:00Z",
            "end",
            "end must be after start.",
        ),
        ("start=2026-13-45T10:00:00Z", "start", None),
    ],
)
def test_events_bad_filters_are_400_naming_the_field(api, world, query, field, message):
    response = api.get(f"/api/v1/events/?{query}")
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]
    if message:
        assert body["fields"][field] == [message]


def test_unencoded_plus_offset_in_query_is_understood(api, world):
    moment = (timezone.now() + dt.timedelta(hours=1)).astimezone(
        dt.timezone(dt.timedelta(hours=10))
    )
    # "+10:00" unencoded in a query string arrives as " 10:00"
    response = api.get(f"/api/v1/events/?end={moment.isoformat(timespec='seconds')}")
    assert response.status_code == 200
    assert response.json()["count"] == 1


# --- sites ------------------------------------------------------------------------------------


def test_sites_list_and_retrieve(api, world, other):
    body = api.get("/api/v1/sites/").json()
    assert [s["id"] for s in body["results"]] == [
        world.site.pk,
        world.aemo_site.pk,
        world.custom_site.pk,
    ]
    site = api.get(f"/api/v1/sites/{world.site.pk}/").json()
    assert site["name"] == "Home"
    assert site["household"] == world.household.pk
    assert site["price_source"] == "amber"
    assert site["amber_site_id"] == world.site.amber_site_id
    assert site["spike_threshold_dollars_per_mwh"] == "300.00"
    assert site["export_boost_window_start"] == "17:00:00"
    assert site["tou_sync_enabled"] is True
    assert site["automation_state"] == {
        "spike_active": False,
        "spike_started_at": None,
        "curtailment_active": False,
        "curtailment_since": None,
        "force_discharge_until": None,
        "household_hold_active": False,
        "in_control": "Live price sync from Amber Electric, Amber's predicted forecast",
        "in_step": True,
        "updated_at": None,  # no reconcile yet
        "prices_unavailable_since": None,
    }
    assert site["connection"] == {
        "price_source_ok": False,
        "amber_token_stored": False,
        "tesla_credentials_stored": False,
        "energy_site_chosen": True,
        "needs_reauthorisation": False,
        "tesla_ok": False,
    }
    assert "credentials" not in site


# --- sensors (Home Assistant parity) ------------------------------------------------------------


def test_sensors_of_an_amber_site(api, world, now):
    world.add_amber_prices(now)
    body = api.get(f"/api/v1/sites/{world.site.pk}/sensors/").json()
    assert body["buy_c_per_kwh"] == "25.50000"
    assert body["sell_c_per_kwh"] == "8.00000"  # feed-in -8.0 c/kWh paid = 8.0 earned
    assert body["rrp_dollars_per_mwh"] is None
    assert body["spike_status"] == "none"
    assert body["price_is_stale"] is False
    assert body["solar_power_w"] == 3200
    assert body["grid_power_w"] == 100
    assert body["battery_power_w"] == -1500
    assert body["home_power_w"] == 1800
    assert body["battery_percent"] == "64.50"
    assert body["tou_sync_enabled"] is True


def test_sensors_with_no_data_are_null(api, world):
    body = api.get(f"/api/v1/sites/{world.aemo_site.pk}/sensors/").json()
    assert body == {
        "price_interval_end_at": None,
        "price_is_stale": None,
        "buy_c_per_kwh": None,
        "sell_c_per_kwh": None,
        "rrp_dollars_per_mwh": None,
        "spike_status": None,
        "energy_sampled_at": None,
        "solar_power_w": None,
        "grid_power_w": None,
        "battery_power_w": None,
        "home_power_w": None,
        "battery_percent": None,
        "tou_sync_enabled": True,
    }


# --- prices -----------------------------------------------------------------------------------


def test_current_price_amber_and_aemo(api, world, now):
    world.add_amber_prices(now)
    world.add_aemo_price(now)
    amber = api.get(f"/api/v1/sites/{world.site.pk}/prices/current/").json()
    assert amber["price_source"] == "amber"
    assert amber["buy_c_per_kwh"] == "25.50000"
    assert amber["sell_c_per_kwh"] == "8.00000"
    assert amber["is_spike"] is False
    aemo = api.get(f"/api/v1/sites/{world.aemo_site.pk}/prices/current/").json()
    assert aemo["price_source"] == "aemo"
    assert aemo["rrp_dollars_per_mwh"] == "85.20"
    assert aemo["buy_c_per_kwh"] is None


def test_current_price_missing_is_404(api, world):
    response = api.get(f"/api/v1/sites/{world.site.pk}/prices/current/")
    assert response.status_code == 404
    assert error(response)["message"] == "No price is stored for this site yet."


def test_price_history_rows_and_range(api, world, now):
    world.add_amber_prices(now)
    body = api.get(f"/api/v1/sites/{world.site.pk}/prices/").json()
    assert body["count"] == 2
    first, second = body["results"]
    assert first["is_forecast"] is False
    assert first["buy_c_per_kwh"] == "25.50000"
    assert first["sell_c_per_kwh"] == "8.00000"
    assert second["is_forecast"] is True
    assert second["buy_c_per_kwh"] == "55.50000"
    assert second["sell_c_per_kwh"] == "-22.00000"
    # a window that ends before the first interval holds nothing
    start = (now - dt.timedelta(hours=3)).isoformat().replace("+", "%2B")
    end = (now - dt.timedelta(hours=2)).isoformat().replace("+", "%2B")
    empty = api.get(f"/api/v1/sites/{world.site.pk}/prices/?start={start}&end={end}").json()
    assert empty["count"] == 0


def test_price_history_aemo(api, world, now):
    price = world.add_aemo_price(now)
    body = api.get(f"/api/v1/sites/{world.aemo_site.pk}/prices/").json()
    assert body["results"] == [
        {
            "interval_end_at": price.interval_end_at.isoformat().replace("+00:00", "Z"),
            "is_forecast": False,
            "buy_c_per_kwh": None,
            "sell_c_per_kwh": None,
            "rrp_dollars_per_mwh": "85.20",
        }
    ]


def test_price_history_span_too_long_is_400(api, world):
    response = api.get(
        f"/api/v1/sites/{world.site.pk}/prices/?start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z"
    )
    assert response.status_code == 400
    assert error(response)["fields"] == {"end": ["The range may span at most 7 days."]}


# --- energy -----------------------------------------------------------------------------------


def test_energy_samples_latest_and_demand_peaks(api, world, now):
    old = EnergySample.objects.create(
        site=world.site,
        sampled_at=now - dt.timedelta(days=3),
        solar_power_w=0,
        battery_power_w=0,
        grid_power_w=500,
        load_power_w=500,
        battery_percent=Decimal("20"),
    )
    samples = api.get(f"/api/v1/sites/{world.site.pk}/energy/samples/").json()
    assert samples["count"] == 1  # default: the last 24 h
    assert samples["results"] == [
        {
            "sampled_at": world.sample.sampled_at.isoformat().replace("+00:00", "Z"),
            "solar_power_w": 3200,
            "battery_power_w": -1500,
            "grid_power_w": 100,
            "home_power_w": 1800,
            "battery_percent": "64.50",
        }
    ]
    start = (now - dt.timedelta(days=4)).isoformat().replace("+", "%2B")
    wide = api.get(f"/api/v1/sites/{world.site.pk}/energy/samples/?start={start}").json()
    assert [s["battery_percent"] for s in wide["results"]] == ["20.00", "64.50"]  # oldest first
    assert old.pk

    latest = api.get(f"/api/v1/sites/{world.site.pk}/energy/latest/").json()
    assert latest["battery_percent"] == "64.50"
    assert api.get(f"/api/v1/sites/{world.aemo_site.pk}/energy/latest/").status_code == 404

    peaks = api.get(f"/api/v1/sites/{world.site.pk}/energy/demand-peaks/").json()
    assert peaks["results"] == [
        {
            "billing_month": world.peak.billing_month.isoformat(),
            "peak_kw": "5.250",
            "peak_at": world.peak.peak_at.isoformat().replace("+00:00", "Z"),
            "estimated_charge_dollars": "12.34",
            "updated_at": world.peak.updated_at.isoformat().replace("+00:00", "Z"),
        }
    ]


def test_energy_span_over_31_days_is_400(api, world):
    response = api.get(
        f"/api/v1/sites/{world.site.pk}/energy/samples/"
        "?start=2026-01-01T00:00:00Z&end=2026-03-01T00:00:00Z"
    )
    assert response.status_code == 400
    assert error(response)["fields"] == {"end": ["The range may span at most 31 days."]}


def test_pagination_page_size(api, world, now):
    for minutes in range(2, 7):
        EnergySample.objects.create(
            site=world.site,
            sampled_at=now - dt.timedelta(minutes=minutes * 5),
            solar_power_w=minutes,
            battery_power_w=0,
            grid_power_w=0,
            load_power_w=0,
            battery_percent=Decimal("50"),
        )
    url = f"/api/v1/sites/{world.site.pk}/energy/samples/?page_size=2"
    first = api.get(url).json()
    assert first["count"] == 6
    assert len(first["results"]) == 2
    assert first["next"].endswith("page=2&page_size=2")
    bad = api.get(url + "&page=99")
    assert bad.status_code == 404
    assert error(bad)["code"] == "not_found"
