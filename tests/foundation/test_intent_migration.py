"""Upgrading a database with automations in force: the old flags on the automation state become
intents, and what they saved becomes the household's values and owners (automations 0003)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("automations", "0002_intents_and_held_state")]
AFTER = [("automations", "0004_remove_replaced_state")]


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def latest_schema_afterwards() -> Any:
    """The tests after this one run on the latest schema, whatever migrations come later."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_old_automation_flags_become_intents_and_owners() -> None:
    old = migrate(BEFORE)
    household = old.get_model("households", "Household").objects.create(name="Upgraded")
    site_model = old.get_model("devices", "Site")
    common = {"household": household, "amber_site_id": "A"}
    spiking = site_model.objects.create(
        name="spiking", aemo_region="QLD1", tesla_energy_site_id="1", **common
    )
    curtailed = site_model.objects.create(
        name="curtailed", tou_sync_enabled=False, tesla_energy_site_id="2", **common
    )
    quiet = site_model.objects.create(name="quiet", tesla_energy_site_id="3", **common)
    profile = old.get_model("tariffs", "TouProfile").objects.create(
        household=household, site=spiking, name="Before spike", tariff_content={}, kind="pre_spike"
    )
    state = old.get_model("automations", "AutomationState")
    now = timezone.now()
    state.objects.create(
        site=spiking,
        spike_active=True,
        spike_started_at=now,
        saved_operation_mode="self_consumption",
        saved_export_rule="pv_only",
        saved_profile=profile,
        force_discharge_until=now + dt.timedelta(minutes=20),
    )
    state.objects.create(
        site=curtailed, curtailment_active=True, curtailment_saved_export_rule="pv_only"
    )
    state.objects.create(site=quiet)

    new = migrate(AFTER)
    intents = new.get_model("automations", "SiteIntent").objects
    states = new.get_model("automations", "AutomationState").objects

    assert set(intents.filter(site_id=spiking.pk).values_list("kind", flat=True)) == {
        "routine",
        "spike",
        "force_discharge",
    }
    spike = intents.get(site_id=spiking.pk, kind="spike")
    assert spike.data["calm_below_dollars_per_mwh"] == "270.00"
    assert intents.get(site_id=spiking.pk, kind="force_discharge").until is not None
    upgraded = states.get(site_id=spiking.pk)
    assert (upgraded.tariff_owner, upgraded.operation_mode_owner) == ("force_discharge",) * 2
    assert upgraded.household_operation_mode == "self_consumption"
    assert upgraded.tariff_backup_id == profile.pk
    assert upgraded.intent_kinds == "force_discharge,spike,routine"
    assert (upgraded.held_unsure, upgraded.in_step) == (True, False)  # read back first

    assert list(intents.filter(site_id=curtailed.pk).values_list("kind", flat=True)) == [
        "curtailment"
    ]
    curtailed_state = states.get(site_id=curtailed.pk)
    assert (curtailed_state.export_rule_owner, curtailed_state.household_export_rule) == (
        "curtailment",
        "pv_only",
    )
    assert states.get(site_id=quiet.pk).intent_kinds == "routine"
