"""AEMO spike response and force discharge against the simulated Powerwall: the intent goes on,
the reconcile takes the battery over, exports, and hands it back to what waits behind: including
the crash cases (state lives in the database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from automations import overrides
from automations.force_discharge import force_discharge_start, force_discharge_stop
from automations.models import AutomationState, IntentKind, SiteIntent
from automations.reconcile import site_reconcile
from automations.spike import aemo_prices_check, sites_to_evaluate
from automations.writes import tariff_push
from devices.clients import tesla_client_for
from devices.models import Site
from households.models import Event
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.model import HalfHourRates
from tariffs.engine.tesla_format import render_half_hour_tariff
from tariffs.models import TariffPush, TouProfile
from tests.automations.conftest import FROZEN_NOW, control, spike_check

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

HOUSEHOLD_RATES = HalfHourRates(
    tuple(Decimal("0.3") for _ in range(48)), tuple(Decimal("0.05") for _ in range(48))
)
END_1 = FROZEN_NOW + dt.timedelta(minutes=1)


def held(upstream, site: Site) -> dict[str, Any]:
    return control(upstream, f"/tesla/sites/{site.tesla_energy_site_id}")


@pytest.fixture
def spiky_site(linked_site, household_upstream) -> Site:
    """Spike response on; live price sync off, so the household's own tariff is what a spike
    hands back (with sync on, live prices take over from fresh data instead)."""
    Site.objects.filter(pk=linked_site.pk).update(
        spike_detection_enabled=True,
        tou_sync_enabled=False,
        aemo_region=household_upstream["region"],
        spike_threshold_dollars_per_mwh=Decimal("300"),
    )
    linked_site.refresh_from_db()
    return linked_site


@pytest.fixture
def household_tariff(upstream, spiky_site) -> dict[str, Any]:
    """The battery runs self-consumption with the household's own tariff (set up directly, as
    the household would in the Tesla app)."""
    client = tesla_client_for(spiky_site)
    client.set_operation_mode(int(spiky_site.tesla_energy_site_id), "self_consumption")
    content = render_half_hour_tariff(HOUSEHOLD_RATES, plan_name="Household", utility="Test")
    pushed = tariff_push(
        site=spiky_site,
        client=client,
        content=content,
        reason="manual",
        why="test setup",
        intent=IntentKind.HOUSEHOLD,
    )
    assert pushed.push.status == TariffPush.Status.CONFIRMED
    return content


def test_spike_from_start_to_restore(upstream, spiky_site, household_tariff, new_tesla_writes):
    assert spike_check(spiky_site, "5000", minutes=1) == "started"
    assert SiteIntent.objects.get(site=spiky_site, kind=IntentKind.SPIKE).active
    state = AutomationState.objects.get(site=spiky_site)
    assert state.household_operation_mode == "self_consumption"
    assert (state.tariff_owner, state.operation_mode_owner) == ("spike", "spike")
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
    # Tariff first, then the mode (the export tariff is in place before autonomous follows it).
    assert [w["command"] for w in new_tesla_writes()] == ["time_of_use_settings", "operation"]

    writes = len(new_tesla_writes())
    assert spike_check(spiky_site, "6000", minutes=2) == "holding"
    assert len(new_tesla_writes()) == writes  # no second push in the same half-hour

    assert spike_check(spiky_site, "280", minutes=5) == "holding"  # above 300 * 0.9
    assert spike_check(spiky_site, "100", minutes=10) == "calming"
    assert spike_check(spiky_site, "100", minutes=10) == "counted"  # same interval, counted once
    assert spike_check(spiky_site, "90", minutes=15) == "ended"

    battery = held(upstream, spiky_site)
    assert tariff_fingerprint(battery["tariff_content_v2"]) == tariff_fingerprint(household_tariff)
    assert battery["operation_mode"] == "self_consumption"
    state.refresh_from_db()
    assert (state.tariff_owner, state.operation_mode_owner, state.tariff_backup_id) == (
        "",
        "",
        None,
    )
    assert state.in_step
    commands = [w["command"] for w in new_tesla_writes()]
    # Restore order: tariff first, then the mode.
    assert commands[-2:] == ["time_of_use_settings", "operation"]
    assert len(commands) == 4  # two to take over, two to give back: nothing twice
    decisions = list(
        Event.objects.filter(site=spiky_site, intent__in=["spike", "household"]).values_list(
            "decision", flat=True
        )
    )
    assert "Price spike: exporting at spike prices" in decisions
    assert "Spike over: the Powerwall goes back to what waits behind it" in decisions
    assert "Operation mode back to yours: self_consumption" in decisions


def test_the_spike_window_moves_with_the_half_hour_once(upstream, spiky_site, household_tariff):
    spike_check(spiky_site, "5000", minutes=1)
    pushes = TariffPush.objects.filter(site=spiky_site, reason=TariffPush.Reason.SPIKE)
    assert pushes.count() == 1
    assert spike_check(spiky_site, "5000", minutes=7) == "refreshed"  # 16:31: a new half-hour
    assert spike_check(spiky_site, "5000", minutes=8) == "holding"
    assert pushes.count() == 2
    assert TouProfile.objects.filter(site=spiky_site).count() == 1  # one backup per takeover


def test_spike_tariff_is_never_saved_as_the_pre_spike_tariff(
    upstream, spiky_site, household_tariff
):
    spike_check(spiky_site, "5000", minutes=1)
    # A crash lost what the reconcile knew while Tesla holds our spike tariff.
    TouProfile.objects.filter(site=spiky_site).delete()
    AutomationState.objects.filter(site=spiky_site).update(
        tariff_owner="", tariff_backup=None, held_unsure=True
    )
    site_reconcile(site_id=spiky_site.pk, now=END_1)
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
        intent=IntentKind.ROUTINE,
        rates=HOUSEHOLD_RATES,
    )
    with mock.patch.object(
        overrides, "parse_tariff_content_v2", side_effect=AssertionError("parsed")
    ):
        assert spike_check(spiky_site, "5000", minutes=1) == "started"
    sell = held(upstream, spiky_site)["tariff_content_v2"]["sell_tariff"]["energy_charges"]
    rates = sorted(sell["Summer"]["rates"].values())
    assert rates.count(5) == 2  # the current and next half-hours
    assert rates[:46] == [0.05] * 46  # the household's own sell rate everywhere else


def test_worker_killed_mid_restore_is_repaired(upstream, spiky_site, household_tariff):
    spike_check(spiky_site, "5000", minutes=1)
    # The spike ended in the database and the worker died before any reconcile ran.
    SiteIntent.objects.filter(site=spiky_site, kind=IntentKind.SPIKE).update(active=False)
    AutomationState.objects.filter(site=spiky_site).update(intent_kinds="")
    site_reconcile(site_id=spiky_site.pk, now=END_1)
    battery = held(upstream, spiky_site)
    assert tariff_fingerprint(battery["tariff_content_v2"]) == tariff_fingerprint(household_tariff)
    assert battery["operation_mode"] == "self_consumption"


def test_killed_after_sending_before_recording_reads_back_instead_of_guessing(
    upstream, spiky_site, household_tariff, new_tesla_writes
):
    """The write-ahead left held_unsure set and the owner recorded: the next pass reads the
    Powerwall back, finds the mode already sent, and sends nothing twice."""
    spike_check(spiky_site, "5000", minutes=1)
    writes = len(new_tesla_writes())
    AutomationState.objects.filter(site=spiky_site).update(
        held_unsure=True, held_operation_mode="self_consumption"
    )
    site_reconcile(site_id=spiky_site.pk, now=END_1)
    assert len(new_tesla_writes()) == writes
    state = AutomationState.objects.get(site=spiky_site)
    assert (state.held_unsure, state.held_operation_mode) == (False, "autonomous")
    assert state.household_operation_mode == "self_consumption"  # never our own autonomous


def test_spike_detection_off_ignores_the_price(upstream, spiky_site, household_tariff):
    Site.objects.filter(pk=spiky_site.pk).update(spike_detection_enabled=False)
    assert spike_check(spiky_site, "9000", minutes=1) == "normal"
    assert not SiteIntent.objects.filter(site=spiky_site, active=True).exists()


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


def test_force_discharge_exports_then_restores(
    upstream, spiky_site, household_tariff, django_capture_on_commit_callbacks
):
    client = tesla_client_for(spiky_site)
    client.set_grid_import_export(int(spiky_site.tesla_energy_site_id), export_rule="never")
    with django_capture_on_commit_callbacks(execute=False):
        until = force_discharge_start(site=spiky_site, minutes=45, now=END_1)
    site_reconcile(site_id=spiky_site.pk, now=END_1)
    assert held(upstream, spiky_site)["export_rule"] == "battery_ok"  # curtailed → may export
    intent = SiteIntent.objects.get(site=spiky_site, kind=IntentKind.FORCE_DISCHARGE)
    assert (intent.active, intent.until) == (True, until)
    battery = held(upstream, spiky_site)
    sells = battery["tariff_content_v2"]["sell_tariff"]["energy_charges"]["Summer"]["rates"]
    # 16:25 + 45 min = 17:10 local: the 16:00, 16:30 and 17:00 half-hours export.
    assert [p for p, rate in sells.items() if rate == 2] == [
        "PERIOD_16_00",
        "PERIOD_16_30",
        "PERIOD_17_00",
    ]
    assert battery["operation_mode"] == "autonomous"

    # A reconcile before its time changes nothing; at its time the discharge ends by itself.
    site_reconcile(site_id=spiky_site.pk, now=until - dt.timedelta(minutes=15))
    assert held(upstream, spiky_site)["operation_mode"] == "autonomous"
    site_reconcile(site_id=spiky_site.pk, now=until)
    battery = held(upstream, spiky_site)
    assert tariff_fingerprint(battery["tariff_content_v2"]) == tariff_fingerprint(household_tariff)
    assert battery["operation_mode"] == "self_consumption"
    assert battery["export_rule"] == "never"  # the rule it had before, back again
    assert not SiteIntent.objects.get(site=spiky_site, kind=IntentKind.FORCE_DISCHARGE).active
    assert Event.objects.filter(
        site=spiky_site, decision="Force discharge ended: its time was up"
    ).exists()


def test_stopping_a_force_discharge_early_hands_back_at_once(
    upstream, spiky_site, household_tariff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        force_discharge_start(site=spiky_site, minutes=30, now=END_1)
    site_reconcile(site_id=spiky_site.pk, now=END_1)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert force_discharge_stop(site=spiky_site)
        assert not force_discharge_stop(site=spiky_site)  # stopping twice: nothing more
    assert len(queued) == 1
    site_reconcile(site_id=spiky_site.pk, now=END_1 + dt.timedelta(minutes=2))
    battery = held(upstream, spiky_site)
    assert tariff_fingerprint(battery["tariff_content_v2"]) == tariff_fingerprint(household_tariff)
    assert battery["operation_mode"] == "self_consumption"
