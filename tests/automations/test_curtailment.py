"""Solar curtailment against the simulated Powerwall: a full episode, the never → pv_only → never
nudge, no flapping on one noisy interval, duplicate deliveries, and the cases that stand aside."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from devices.clients import tesla_client_for
from devices.curtailment import (
    CurtailOutcome,
    interval_end_after,
    site_curtailment_check,
    sites_to_check,
)
from devices.models import AutomationState, DeviceCommand, Site
from households.models import Event
from tasks import curtail
from tasks.locks import site_lock
from tests.automations.conftest import FROZEN_NOW, control, tesla_history

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

Writes = Callable[[], list[dict[str, Any]]]
# Amber's sign: a negative feed-in price means the household earns.
EARNS = Decimal("-8.5")
COSTS = Decimal("4.2")


def held(upstream, site: Site) -> dict[str, Any]:
    return control(upstream, f"/tesla/sites/{site.tesla_energy_site_id}")


def rules_sent(writes: Writes) -> list[str]:
    return [
        w["body"]["customer_preferred_export_rule"]
        for w in writes()
        if w["command"] == "grid_import_export"
    ]


def check(site: Site, feed_in: Decimal | None, *, minutes: float) -> CurtailOutcome:
    """One check ``minutes`` after FROZEN_NOW (16:24 local, inside the 16:20-16:25 interval)."""
    return site_curtailment_check(
        site_id=site.pk,
        feed_in_c_per_kwh=feed_in,
        now=FROZEN_NOW + dt.timedelta(minutes=minutes),
    )


def state_of(site: Site) -> AutomationState:
    return AutomationState.objects.get(site=site)


@pytest.fixture
def household_rule() -> str:
    return "battery_ok"


@pytest.fixture
def curtail_site(upstream, linked_site, household_rule) -> Site:
    """Curtailment on; the Powerwall holds the household's export rule (the simulator's state
    outlives a test, so it is set every time)."""
    Site.objects.filter(pk=linked_site.pk).update(curtailment_enabled=True)
    linked_site.refresh_from_db()
    tesla_client_for(linked_site).set_grid_import_export(
        int(linked_site.tesla_energy_site_id),
        export_rule=household_rule,
    )
    DeviceCommand.objects.all().delete()
    return linked_site


@pytest.fixture
def writes(upstream, curtail_site) -> Writes:
    """Callable: the writes the simulated Powerwall received after the site was set up."""
    history = tesla_history(upstream, curtail_site)
    seen = max((w["seq"] for w in history), default=0)
    return lambda: [w for w in tesla_history(upstream, curtail_site) if w["seq"] > seen]


@pytest.mark.parametrize("household_rule", ["pv_only"])
def test_negative_feed_in_episode_restores_the_households_rule(upstream, curtail_site, writes):
    """Amber REST prices from the negative_feed_in scenario: midday exports cost money."""
    control(upstream, "/scenario", {"name": "negative_feed_in"})
    midday = dt.datetime.fromisoformat("2025-06-28T12:02:00+10:00")
    control(upstream, "/clock", {"now": midday.isoformat(), "speed": 0})

    assert site_curtailment_check(site_id=curtail_site.pk, now=midday) == CurtailOutcome.CURTAILED
    assert held(upstream, curtail_site)["export_rule"] == "never"
    state = state_of(curtail_site)
    assert state.curtailment_active
    assert state.curtailment_since == midday
    assert state.curtailment_saved_export_rule == "pv_only"
    command = DeviceCommand.objects.get(site=curtail_site)
    assert (command.kind, command.payload, command.status) == (
        "export_rule",
        {"export_rule": "never"},
        "succeeded",
    )
    assert "exporting earns -" in command.reason

    # Prices turn positive: restored only after two 5-minute intervals, each counted once.
    control(upstream, "/scenario", {"name": "normal"})
    steps = [("12:07:00", "calming"), ("12:08:30", "counted"), ("12:12:00", "restored")]
    for clock, expected in steps:
        now = dt.datetime.fromisoformat(f"2025-06-28T{clock}+10:00")
        control(upstream, "/clock", {"now": now.isoformat(), "speed": 0})
        assert site_curtailment_check(site_id=curtail_site.pk, now=now) == expected

    assert held(upstream, curtail_site)["export_rule"] == "pv_only"
    assert rules_sent(writes) == ["never", "pv_only"]
    state.refresh_from_db()
    assert (state.curtailment_active, state.curtailment_since) == (False, None)
    assert (state.curtailment_saved_export_rule, state.curtailment_calm_intervals) == ("", 0)
    decisions = list(
        Event.objects.filter(site=curtail_site, automation="curtailment")
        .order_by("id")
        .values_list("decision", flat=True)
    )
    assert decisions == [
        "Solar export stopped: exporting would cost money",
        "Solar export restored (pv_only)",
    ]


@pytest.mark.parametrize("household_rule", ["never"])
def test_tesla_already_never_is_nudged_through_pv_only(upstream, curtail_site, writes):
    assert check(curtail_site, COSTS, minutes=0) == CurtailOutcome.CURTAILED
    assert rules_sent(writes) == ["pv_only", "never"]
    assert held(upstream, curtail_site)["export_rule"] == "never"
    # "never" is not a rule to go back to: the default is saved instead.
    assert state_of(curtail_site).curtailment_saved_export_rule == "battery_ok"
    reasons = list(
        DeviceCommand.objects.filter(site=curtail_site)
        .order_by("id")
        .values_list("payload", "reason")
    )
    assert reasons[0][0] == {"export_rule": "pv_only"}
    assert "already says never" in reasons[0][1]


def test_zero_earnings_curtail_too(upstream, curtail_site, writes):
    assert check(curtail_site, Decimal("0"), minutes=0) == CurtailOutcome.CURTAILED
    assert rules_sent(writes) == ["never"]


def test_one_noisy_interval_does_not_flap(upstream, curtail_site, writes):
    assert check(curtail_site, EARNS, minutes=0) == CurtailOutcome.NORMAL
    assert check(curtail_site, COSTS, minutes=1) == CurtailOutcome.CURTAILED  # 16:25-16:30
    # A positive reading later in the interval that curtailed does not count towards leaving.
    assert check(curtail_site, EARNS, minutes=2) == CurtailOutcome.COUNTED
    # One positive interval inside a negative stretch: counted, nothing sent.
    assert check(curtail_site, EARNS, minutes=6) == CurtailOutcome.CALMING
    assert check(curtail_site, COSTS, minutes=11) == CurtailOutcome.IN_FORCE
    assert state_of(curtail_site).curtailment_calm_intervals == 0  # the count starts again
    assert check(curtail_site, EARNS, minutes=16) == CurtailOutcome.CALMING
    assert rules_sent(writes) == ["never"]
    assert check(curtail_site, EARNS, minutes=21) == CurtailOutcome.RESTORED
    assert rules_sent(writes) == ["never", "battery_ok"]
    assert held(upstream, curtail_site)["export_rule"] == "battery_ok"


def test_duplicate_deliveries_send_one_command(upstream, curtail_site, writes):
    end = interval_end_after(FROZEN_NOW + dt.timedelta(minutes=1))
    for expected in (CurtailOutcome.CURTAILED, CurtailOutcome.IN_FORCE):
        outcome = site_curtailment_check(
            site_id=curtail_site.pk,
            feed_in_c_per_kwh=COSTS,
            interval_end=end,
            now=FROZEN_NOW + dt.timedelta(minutes=1),
        )
        assert outcome == expected
    assert rules_sent(writes) == ["never"]
    # A copy running while another check holds the site's lock stands aside.
    with site_lock("curtail", curtail_site.pk, ttl_seconds=10):
        assert check(curtail_site, EARNS, minutes=7) == CurtailOutcome.BUSY
    assert check(curtail_site, EARNS, minutes=7) == CurtailOutcome.CALMING
    assert check(curtail_site, EARNS, minutes=12) == CurtailOutcome.RESTORED
    assert check(curtail_site, EARNS, minutes=12) == CurtailOutcome.NORMAL
    assert rules_sent(writes) == ["never", "battery_ok"]
    assert Event.objects.filter(site=curtail_site, automation="curtailment").count() == 2


def test_price_of_an_interval_that_is_over_is_ignored(upstream, curtail_site, writes):
    outcome = site_curtailment_check(
        site_id=curtail_site.pk,
        feed_in_c_per_kwh=COSTS,
        interval_end=FROZEN_NOW - dt.timedelta(minutes=4),
        now=FROZEN_NOW,
    )
    assert outcome == CurtailOutcome.STALE
    assert writes() == []


@pytest.mark.parametrize("household_rule", ["pv_only"])
def test_crash_after_the_command_is_repaired_with_the_saved_rule(upstream, curtail_site, writes):
    """A worker saved the rule and sent "never", then died before marking the state."""
    AutomationState.objects.filter(site=curtail_site).update(
        curtailment_saved_export_rule="pv_only"
    )
    tesla_client_for(curtail_site).set_grid_import_export(
        int(curtail_site.tesla_energy_site_id), export_rule="never"
    )
    assert check(curtail_site, COSTS, minutes=0) == CurtailOutcome.CURTAILED
    state = state_of(curtail_site)
    assert (state.curtailment_active, state.curtailment_saved_export_rule) == (True, "pv_only")
    assert rules_sent(writes)[-2:] == ["pv_only", "never"]


def test_disabled_site_does_nothing(upstream, curtail_site, writes):
    Site.objects.filter(pk=curtail_site.pk).update(curtailment_enabled=False)
    assert check(curtail_site, COSTS, minutes=0) == CurtailOutcome.DISABLED
    assert writes() == []
    assert not state_of(curtail_site).curtailment_active
    assert curtail_site.pk not in sites_to_check()


def test_turning_curtailment_off_mid_episode_restores(upstream, curtail_site, writes):
    check(curtail_site, COSTS, minutes=0)
    Site.objects.filter(pk=curtail_site.pk).update(curtailment_enabled=False)
    assert curtail_site.pk in sites_to_check()  # still curtailed: the beat keeps checking it
    assert check(curtail_site, COSTS, minutes=1) == CurtailOutcome.RESTORED
    assert rules_sent(writes) == ["never", "battery_ok"]
    assert curtail_site.pk not in sites_to_check()


def test_force_discharge_owns_the_battery(upstream, curtail_site, writes):
    AutomationState.objects.filter(site=curtail_site).update(
        force_discharge_until=FROZEN_NOW + dt.timedelta(minutes=30)
    )
    assert check(curtail_site, COSTS, minutes=0) == CurtailOutcome.PAUSED
    assert writes() == []
    assert not state_of(curtail_site).curtailment_active
    # Once it is over, curtailment acts.
    assert check(curtail_site, COSTS, minutes=31) == CurtailOutcome.CURTAILED


def test_site_needing_reauthorisation_is_paused(upstream, curtail_site, writes):
    Site.objects.filter(pk=curtail_site.pk).update(needs_reauthorisation=True)
    assert check(curtail_site, COSTS, minutes=0) == CurtailOutcome.PAUSED
    assert writes() == []
    assert curtail_site.pk not in sites_to_check()


def test_check_site_task_passes_the_listener_price_through(curtail_site):
    with mock.patch.object(curtail.curtailment, "site_curtailment_check") as service:
        curtail.check_site(curtail_site.pk, "-3.25", "2025-06-28T06:25:00+00:00")
        curtail.check_site(curtail_site.pk)
    assert service.call_args_list == [
        mock.call(
            site_id=curtail_site.pk,
            feed_in_c_per_kwh=Decimal("-3.25"),
            interval_end=dt.datetime(2025, 6, 28, 6, 25, tzinfo=dt.UTC),
        ),
        mock.call(site_id=curtail_site.pk, feed_in_c_per_kwh=None, interval_end=None),
    ]


def test_check_site_task_reads_amber_when_no_price_is_given(upstream, curtail_site, writes):
    # 16:24 normal scenario: exporting earns money, so nothing happens.
    curtail.check_site(curtail_site.pk)
    assert writes() == []
    assert not state_of(curtail_site).curtailment_active


def test_check_all_fans_out_with_expiry(curtail_site):
    with mock.patch.object(curtail.check_site, "apply_async") as queued:
        curtail.check_all()
    queued.assert_called_once_with((curtail_site.pk,), expires=curtail.CHECK_EXPIRES_SECONDS)
