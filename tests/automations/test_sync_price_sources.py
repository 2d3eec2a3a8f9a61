"""TOU sync for Flow Power (AEMO wholesale) and fixed-plan sites, against the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automations.routine import SyncOutcome, aemo_series_refresh
from devices.models import Site
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.models import CustomTouSchedule, TariffPush
from tests.automations.conftest import FROZEN_NOW, control, site_sync

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

EXAMPLE_SCHEDULE = Path(__file__).resolve().parents[1] / (
    "tariffs/engine/data/custom_schedule_example.json"
)


def aemo_requests(sim) -> int:
    return int(control(sim, "/stats")["requests"].get("aemo", 0))


@pytest.fixture
def flow_power_site(linked_site, household_upstream) -> Site:
    assert household_upstream["region"] == "NSW1"  # seed 11, household 1: Sydney
    Site.objects.filter(pk=linked_site.pk).update(
        price_source=Site.PriceSource.AEMO,
        aemo_region="NSW1",
        aemo_network="ausgrid",
        aemo_tariff_code="EA025",
    )
    linked_site.refresh_from_db()
    return linked_site


def test_one_aemo_read_serves_every_flow_power_site(upstream, flow_power_site):
    before = aemo_requests(upstream)
    assert aemo_series_refresh(now=FROZEN_NOW) > 0
    assert aemo_requests(upstream) == before + 1


def test_flow_power_site_is_synced_from_stored_aemo_prices(upstream, flow_power_site):
    aemo_series_refresh(now=FROZEN_NOW)
    before = aemo_requests(upstream)
    assert site_sync(site_id=flow_power_site.pk, reason="forecast", now=FROZEN_NOW) == (
        SyncOutcome.PUSHED
    )
    assert aemo_requests(upstream) == before  # the site sync itself reads no AEMO
    push = TariffPush.objects.get(site=flow_power_site, status=TariffPush.Status.CONFIRMED)
    assert push.tariff_content is not None
    sells = push.tariff_content["sell_tariff"]["energy_charges"]["Summer"]["rates"]
    # Flow Power Happy Hour 17:30-19:30 pays 45 c/kWh in New South Wales, nothing otherwise.
    happy = {p for p, rate in sells.items() if rate == 0.45}
    assert happy == {"PERIOD_17_30", "PERIOD_18_00", "PERIOD_18_30", "PERIOD_19_00"}
    assert {rate for p, rate in sells.items() if p not in happy} == {0}
    assert site_sync(site_id=flow_power_site.pk, reason="settled", now=FROZEN_NOW) == (
        SyncOutcome.UNCHANGED
    )


def test_unknown_tariff_code_is_refused_not_guessed(upstream, flow_power_site, new_tesla_writes):
    Site.objects.filter(pk=flow_power_site.pk).update(aemo_tariff_code="NOPE123")
    aemo_series_refresh(now=FROZEN_NOW)
    assert site_sync(site_id=flow_power_site.pk, reason="forecast", now=FROZEN_NOW) == (
        SyncOutcome.REFUSED
    )
    assert new_tesla_writes() == []
    refused = TariffPush.objects.get(site=flow_power_site)
    assert "NOPE123" in refused.detail


def test_fixed_plan_is_pushed_once_and_again_when_edited(upstream, linked_site, new_tesla_writes):
    schedule = CustomTouSchedule.objects.create(
        household=linked_site.household,
        name="Retailer plan",
        definition=json.loads(EXAMPLE_SCHEDULE.read_text()),
    )
    Site.objects.filter(pk=linked_site.pk).update(
        price_source=Site.PriceSource.CUSTOM, custom_schedule=schedule
    )
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == (
        SyncOutcome.PUSHED
    )
    held = control(upstream, f"/tesla/sites/{linked_site.tesla_energy_site_id}")
    assert tariff_fingerprint(held["tariff_content_v2"]) == (
        TariffPush.objects.get(site=linked_site).fingerprint
    )
    assert "PEAK" in json.dumps(held["tariff_content_v2"]["energy_charges"])
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == (
        SyncOutcome.UNCHANGED
    )
    assert len(new_tesla_writes()) == 1

    edited = json.loads(EXAMPLE_SCHEDULE.read_text())
    edited["seasons"][0]["periods"][0]["buy_c_per_kwh"] = "60"  # summer peak up
    CustomTouSchedule.objects.filter(pk=schedule.pk).update(definition=edited)
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == (
        SyncOutcome.PUSHED
    )
