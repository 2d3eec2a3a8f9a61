from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict

from credentials.models import SiteCredentials
from devices.models import Site
from tests.api.conftest import error

pytestmark = pytest.mark.django_db

SECRET = "psk_live_do-not-leak-0123456789"


def test_patch_settings(api, world):
    response = api.patch(
        f"/api/v1/sites/{world.site.pk}/",
        {
            "spike_detection_enabled": True,
            "spike_threshold_dollars_per_mwh": "450.5",
            "export_boost_enabled": True,
            "export_boost_offset_c_per_kwh": 5,
            "export_boost_window_start": "16:30",
            "forecast_type": "high",
            "time_zone": "Australia/Adelaide",
            "tou_sync_enabled": False,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["spike_threshold_dollars_per_mwh"] == "450.50"
    assert body["export_boost_offset_c_per_kwh"] == "5.00"
    assert body["export_boost_window_start"] == "16:30:00"
    assert body["tou_sync_enabled"] is False
    site = Site.objects.get(pk=world.site.pk)
    assert site.spike_detection_enabled is True
    assert site.spike_threshold_dollars_per_mwh == Decimal("450.50")
    assert site.export_boost_window_start == dt.time(16, 30)
    assert site.forecast_type == "high"
    assert site.time_zone == "Australia/Adelaide"
    assert site.tou_sync_enabled is False


def test_the_calibrated_forecast_can_be_chosen(api, world):
    response = api.patch(
        f"/api/v1/sites/{world.site.pk}/", {"forecast_type": "calibrated"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert Site.objects.get(pk=world.site.pk).forecast_type == Site.ForecastType.CALIBRATED


def test_auto_sync_switch_round_trip_via_sensors(api, world):
    api.patch(f"/api/v1/sites/{world.site.pk}/", {"tou_sync_enabled": False}, format="json")
    assert api.get(f"/api/v1/sites/{world.site.pk}/sensors/").json()["tou_sync_enabled"] is False


def test_switch_price_source_to_custom_schedule(api, world):
    response = api.patch(
        f"/api/v1/sites/{world.site.pk}/",
        {"price_source": "custom", "custom_schedule": world.schedule.pk},
        format="json",
    )
    assert response.status_code == 200, response.json()
    world.site.refresh_from_db()
    assert world.site.price_source == "custom"
    assert world.site.custom_schedule_id == world.schedule.pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"spike_threshold_dollars_per_mwh": "-1"}, "spike_threshold_dollars_per_mwh"),
        ({"spike_threshold_dollars_per_mwh": "abc"}, "spike_threshold_dollars_per_mwh"),
        ({"export_boost_offset_c_per_kwh": 100.5}, "export_boost_offset_c_per_kwh"),
        ({"export_boost_min_c_per_kwh": -3}, "export_boost_min_c_per_kwh"),
        ({"export_boost_window_start": "25:00"}, "export_boost_window_start"),
        ({"export_boost_window_end": "17:00"}, "export_boost_window_end"),  # = start
        ({"tou_sync_enabled": "perhaps"}, "tou_sync_enabled"),
        ({"forecast_type": "median"}, "forecast_type"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "UTC"}, "time_zone"),
        ({"time_zone": "America/New_York"}, "time_zone"),
        ({"export_boost_window_start": "17:15"}, "export_boost_window_start"),
        ({"export_boost_window_end": "21:10"}, "export_boost_window_end"),
        ({"price_source": "aemo"}, "non_field_errors"),  # AEMO without a region
        ({"custom_schedule": 999999}, "custom_schedule"),
        ({"credentials": {"amber_token": ["x"]}}, "credentials.amber_token"),
        ({"credentials": {"amber_token": ""}}, "credentials.amber_token"),
        ({"credentials": "not an object"}, "credentials.non_field_errors"),
        ({"spike_threshold_dollars_per_mwh": "20000.01"}, "spike_threshold_dollars_per_mwh"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_settings_are_400_naming_the_field_and_change_nothing(api, world, payload, field):
    before = model_to_dict(Site.objects.get(pk=world.site.pk))
    response = api.patch(f"/api/v1/sites/{world.site.pk}/", payload, format="json")
    assert response.status_code == 400, response.json()
    body = error(response)
    assert field in body["fields"], body
    assert body["fields"][field][0]
    assert model_to_dict(Site.objects.get(pk=world.site.pk)) == before
    assert not SiteCredentials.objects.filter(site=world.site).exists()


def test_bad_field_next_to_good_ones_changes_nothing(api, world):
    response = api.patch(
        f"/api/v1/sites/{world.site.pk}/",
        {"name": "Renamed", "credentials": {"amber_token": SECRET}, "aemo_region": "XX9"},
        format="json",
    )
    assert response.status_code == 400
    assert list(error(response)["fields"]) == ["aemo_region"]
    world.site.refresh_from_db()
    assert world.site.name == "Home"
    assert not SiteCredentials.objects.filter(site=world.site).exists()


def test_service_level_error_rolls_back_earlier_changes(api, world):
    # the settings part is fine, the price-source part fails in the service: nothing is saved
    response = api.patch(
        f"/api/v1/sites/{world.site.pk}/",
        {"name": "Renamed", "price_source": "aemo"},
        format="json",
    )
    assert response.status_code == 400
    world.site.refresh_from_db()
    assert world.site.name == "Home"
    assert world.site.price_source == "amber"


def test_credentials_are_write_only(api, world):
    response = api.patch(
        f"/api/v1/sites/{world.site.pk}/",
        {"credentials": {"amber_token": SECRET, "teslemetry_api_key": SECRET + "-tesla"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert SECRET not in response.content.decode()
    assert response.json()["connection"] == {
        "price_source_ok": True,
        "amber_token_stored": True,
        "tesla_credentials_stored": True,
        "energy_site_chosen": True,
        "needs_reauthorisation": False,
        "tesla_ok": True,
    }
    credentials = SiteCredentials.objects.get(site=world.site)
    assert credentials.amber_token == SECRET
    assert credentials.teslemetry_api_key == SECRET + "-tesla"

    # omitting a secret keeps it
    api.patch(f"/api/v1/sites/{world.site.pk}/", {"name": "Renamed"}, format="json")
    credentials.refresh_from_db()
    assert credentials.amber_token == SECRET

    # no read endpoint ever shows it
    for path in (
        "/api/v1/sites/",
        f"/api/v1/sites/{world.site.pk}/",
        f"/api/v1/sites/{world.site.pk}/sensors/",
        "/api/v1/households/",
        "/api/v1/events/",
        "/api/v1/schema/",
    ):
        body = api.get(path).content.decode()
        assert SECRET not in body, path


@pytest.mark.parametrize(
    ("payload", "field", "says"),
    [
        (
            {"aemo_network": "bogus", "aemo_tariff_code": "6900"},
            "aemo_network",
            "Choose your network distributor",
        ),
        (
            {"aemo_network": "energex", "aemo_tariff_code": "NOPE"},
            "aemo_tariff_code",
            "'NOPE' is not a tariff code Energex (QLD) lists",
        ),
        (
            {"aemo_region": "TAS1", "aemo_network": "energex", "aemo_tariff_code": "6900"},
            "aemo_network",
            "Energex (QLD) is in QLD1, not TAS1.",
        ),
        ({"aemo_network": "energex"}, "aemo_tariff_code", "Give the network tariff code"),
    ],
)
def test_the_api_refuses_a_network_tariff_the_form_refuses(api, world, payload, field, says):
    """One rule (the site model's) for the onboarding form and the API."""
    before = model_to_dict(Site.objects.get(pk=world.aemo_site.pk))
    response = api.patch(f"/api/v1/sites/{world.aemo_site.pk}/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert any(says in m for m in error(response)["fields"][field]), error(response)
    assert model_to_dict(Site.objects.get(pk=world.aemo_site.pk)) == before


def test_a_tariff_code_written_as_on_the_bill_is_kept_as_the_network_lists_it(api, world):
    response = api.patch(
        f"/api/v1/sites/{world.aemo_site.pk}/",
        {"aemo_network": "energex", "aemo_tariff_code": "ntc 6900"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    world.aemo_site.refresh_from_db()
    assert (world.aemo_site.aemo_network, world.aemo_site.aemo_tariff_code) == ("energex", "6900")
