"""AEMO spike response and force discharge against the simulated Powerwall: take over, export,
hand back — including the crash cases (state lives in the database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from devices import battery_override
from devices.clients import tesla_client_for
from devices.force_discharge import force_discharge_begin, force_discharge_end
from devices.models import AutomationState, Site
from households.models import Event
from pricing.spike import aemo_prices_check, site_spike_evaluate, sites_to_evaluate
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.model import HalfHourRates
from tariffs.engine.tesla_format import render_half_hour_tariff
from tariffs.models import TariffPush, TouProfile
from tariffs.push import tariff_push
from tests.automations.conftest import FROZEN_NOW, control

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

HOUSEHOLD_RATES = HalfHourRates(
    tuple(Decimal("0.3") for _ in range(48)), tuple(Decimal("0.05") for _ in range(48))
)
END_1 = FROZEN_NOW + dt.timedelta(minutes=1)


def held(upstream, site: Site) -> dict[str, Any]:
    return control(upstream, f"/tesla/sites/{site.tesla_energy_site_id}")


@pytest.fixture
def spiky_site(linked_site, household_upstream) -> Site:
    Site.objects.filter(pk=linked_site.pk).update(
        spike_detection_enabled=True,
        aemo_region=household_upstream["region"],
        spike_threshold_dollars_per_mwh=Decimal("300"),
    )
    linked_site.refresh_from_db()
    return linked_site


@pytest.fixture
def household_tariff(upstream, spiky_site) -> dict[str, Any]:
    """The battery runs self-consumption with the household's own tariff, pushed by us."""
    client = tesla_client_for(spiky_site)
    client.set_operation_mode(int(spiky_site.tesla_energy_site_id), "self_consumption")
    content = render_half_hour_tariff(HOUSEHOLD_RATES, plan_name="Household", utility="Test")
    push = tariff_push(
        site=spiky_site, client=client, content=content, reason="manual", why="test setup"
    )
    assert push.status == TariffPush.Status.CONFIRMED
    return content


def evaluate(site: Site, rrp: str, *, minutes: int) -> str:
    return site_spike_evaluate(
        site_id=site.pk,
        rrp_dollars_per_mwh=Decimal(rrp),
        interval_end=FROZEN_NOW + dt.timedelta(minutes=minutes),
        now=FROZEN_NOW + dt.timedelta(minutes=minutes),
    )


def test_spike_from_start_to_restore(upstream, spiky_site, household_tariff, new_tesla_writes):
    assert evaluate(spiky_site, "5000", minutes=1) == "spike tariff pushed"
    state = AutomationState.objects.get(site=spiky_site)
    assert state.spike_active
    assert state.saved_operation_mode == "self_consumption"
    backup = TouProfile.objects.get(site=spiky_site, kind=TouProfile.Kind.PRE_SPIKE)
    assert backup.fingerprint == tariff_fingerprint(household_tariff)
    battery = held(upstream, spiky_site)
    assert battery["operation_mode"] == "autonomous"
    rates = battery["tariff_content_v2"]["sell_tariff"]["energy_charges"]["Summer"]["rates"]
    # 16:25 Brisbane/Sydney etc.: the current and next half-hours export at $5/kWh.
    local = (FROZEN_NOW + dt.timedelta(minutes=1)).astimezone(spiky_site.zone)
    current = f"PERIOD_{local.hour:02d}_{local.minute - local.minute % 30:02d}"
    assert rates[current] == 5
    assert sorted(rates.values()).count(5) == 2

    writes = len(new_tesla_writes())
    assert evaluate(spiky_site, "6000", minutes=2) == "spike tariff in force"
    assert len(new_tesla_writes()) == writes  # no second push in the same half-hour

    assert evaluate(spiky_site, "280", minutes=5) == "holding"  # above 300 * 0.9
    assert evaluate(spiky_site, "100", minutes=10) == "calming"
    assert evaluate(spiky_site, "100", minutes=10) == "counted"  # same interval, counted once
    assert evaluate(spiky_site, "90", minutes=15) == "restored"

    battery = held(upstream, spiky_site)
    assert tariff_fingerprint(battery["tariff_content_v2"]) == tariff_fingerprint(household_tariff)
    assert battery["operation_mode"] == "self_consumption"
    state.refresh_from_db()
    assert (state.spike_active, state.saved_profile_id, state.saved_operation_mode) == (
        False,
        None,
        "",
    )
    commands = [w["command"] for w in new_tesla_writes()]
    # Restore order: tariff first, then the mode.
    assert commands[-2:] == ["time_of_use_settings", "operation"]
    decisions = list(
        Event.objects.filter(site=spiky_site, automation="spike").values_list("decision", flat=True)
    )
    assert "Price spike: exporting at spike prices" in decisions
    assert "Spike over: tariff and mode restored" in decisions


def test_spike_tariff_is_never_saved_as_the_pre_spike_tariff(
    upstream, spiky_site, household_tariff
):
    evaluate(spiky_site, "5000", minutes=1)
    # A crash lost the saved state while Tesla holds our spike tariff.
    TouProfile.objects.filter(site=spiky_site).delete()
    AutomationState.objects.filter(site=spiky_site).update(
        saved_profile=None, saved_operation_mode="", spike_tariff_half_hour=None
    )
    assert evaluate(spiky_site, "5000", minutes=2) == "spike tariff pushed"
    backup = TouProfile.objects.get(site=spiky_site, kind=TouProfile.Kind.PRE_SPIKE)
    assert backup.fingerprint == tariff_fingerprint(household_tariff)


def test_a_synced_tariff_is_built_on_from_its_stored_rates_without_parsing(upstream, spiky_site):
    """A sync's push keeps its 48 half-hours: the spike tariff starts from those."""
    client = tesla_client_for(spiky_site)
    content = render_half_hour_tariff(HOUSEHOLD_RATES, plan_name="Household", utility="Test")
    tariff_push(
        site=spiky_site,
        client=client,
        content=content,
        reason="forecast",
        why="a sync",
        rates=HOUSEHOLD_RATES,
    )
    with mock.patch.object(
        battery_override, "parse_tariff_content_v2", side_effect=AssertionError("parsed")
    ):
        assert evaluate(spiky_site, "5000", minutes=1) == "spike tariff pushed"
    sell = held(upstream, spiky_site)["tariff_content_v2"]["sell_tariff"]["energy_charges"]
    rates = sorted(sell["Summer"]["rates"].values())
    assert rates.count(5) == 2  # the current and next half-hours
    assert rates[:46] == [0.05] * 46  # the household's own sell rate everywhere else


def test_worker_killed_mid_restore_is_repaired(upstream, spiky_site, household_tariff):
    evaluate(spiky_site, "5000", minutes=1)
    # The worker ended the spike in the database and died before restoring the battery.
    AutomationState.objects.filter(site=spiky_site).update(spike_active=False)
    assert spiky_site.pk in battery_override.sites_needing_release(now=END_1)
    client = tesla_client_for(spiky_site)
    assert battery_override.battery_override_release(
        site=spiky_site, client=client, reason="restore", why="repair", now=END_1
    )
    battery = held(upstream, spiky_site)
    assert tariff_fingerprint(battery["tariff_content_v2"]) == tariff_fingerprint(household_tariff)
    assert battery["operation_mode"] == "self_consumption"
    assert spiky_site.pk not in battery_override.sites_needing_release(now=END_1)


def test_spike_detection_off_ignores_the_price(upstream, spiky_site, household_tariff):
    Site.objects.filter(pk=spiky_site.pk).update(spike_detection_enabled=False)
    assert evaluate(spiky_site, "9000", minutes=1) == "normal"
    assert not AutomationState.objects.get(site=spiky_site).spike_active


def test_one_aemo_read_fans_out_to_the_spiking_region_only(upstream, spiky_site):
    region = spiky_site.aemo_region
    control(upstream, "/scenario", {"name": "aemo_spike", "params": {"region": region}})
    prices = aemo_prices_check(now=END_1)
    assert prices[region].rrp_dollars_per_mwh >= 300
    assert sites_to_evaluate(region, prices[region].rrp_dollars_per_mwh) == [spiky_site.pk]
    calm_region = next(r for r in prices if r != region)
    assert spiky_site.pk not in sites_to_evaluate(
        calm_region, prices[calm_region].rrp_dollars_per_mwh
    )


def test_force_discharge_exports_then_restores(upstream, spiky_site, household_tariff):
    client = tesla_client_for(spiky_site)
    client.set_grid_import_export(int(spiky_site.tesla_energy_site_id), export_rule="never")
    until = force_discharge_begin(site_id=spiky_site.pk, minutes=45, now=END_1)
    assert held(upstream, spiky_site)["export_rule"] == "battery_ok"  # curtailed → may export
    state = AutomationState.objects.get(site=spiky_site)
    assert state.force_discharge_until == until
    battery = held(upstream, spiky_site)
    sells = battery["tariff_content_v2"]["sell_tariff"]["energy_charges"]["Summer"]["rates"]
    # 16:25 + 45 min = 17:10 local: the 16:00, 16:30 and 17:00 half-hours export.
    assert [p for p, rate in sells.items() if rate == 2] == [
        "PERIOD_16_00",
        "PERIOD_16_30",
        "PERIOD_17_00",
    ]
    assert battery["operation_mode"] == "autonomous"

    # The end task of an earlier, shorter request arrives: this discharge still owns the battery.
    earlier = until - dt.timedelta(minutes=15)
    assert not force_discharge_end(site_id=spiky_site.pk, expected_until=earlier, now=earlier)
    assert held(upstream, spiky_site)["operation_mode"] == "autonomous"
    assert force_discharge_end(site_id=spiky_site.pk, expected_until=until, now=until)
    battery = held(upstream, spiky_site)
    assert tariff_fingerprint(battery["tariff_content_v2"]) == tariff_fingerprint(household_tariff)
    assert battery["operation_mode"] == "self_consumption"
    assert battery["export_rule"] == "never"  # the rule it had before, back again
    assert AutomationState.objects.get(site=spiky_site).force_discharge_until is None
