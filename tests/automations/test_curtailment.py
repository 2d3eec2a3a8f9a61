"""Solar curtailment against the simulated Powerwall: a full episode, the never → pv_only → never
nudge, no flapping on one noisy interval, duplicate deliveries, the cases that stand aside, and
curtailment waiting behind a force discharge (and coming back after it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from automations.checks import Checked
from automations.curtailment import (
    CurtailmentCheck,
    CurtailOutcome,
    interval_end_after,
    sites_to_check,
)
from automations.force_discharge import force_discharge_start
from automations.models import AutomationState, IntentKind, SiteIntent
from automations.reconcile import Outcome, site_reconcile
from devices.clients import tesla_client_for
from devices.models import DeviceCommand, Site
from households.models import Event
from ops.locks import redis_client, redis_key
from tasks import curtail
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


def evaluate(
    site: Site, feed_in: Decimal | None, now: dt.datetime, end: dt.datetime | None = None
) -> CurtailOutcome:
    """One curtailment check, run by the site's reconcile (as tasks.curtail.check_site)."""
    result = site_reconcile(
        site_id=site.pk,
        check=CurtailmentCheck(feed_in_c_per_kwh=feed_in, interval_end=end),
        now=now,
    )
    assert result.checked is not None
    return CurtailOutcome(result.checked.what)


def check(site: Site, feed_in: Decimal | None, *, minutes: float) -> CurtailOutcome:
    """One check ``minutes`` after FROZEN_NOW (16:24 local, inside the 16:20-16:25 interval)."""
    return evaluate(site, feed_in, FROZEN_NOW + dt.timedelta(minutes=minutes))


def state_of(site: Site) -> AutomationState:
    return AutomationState.objects.get(site=site)


def curtailing(site: Site) -> bool:
    return SiteIntent.objects.filter(site=site, kind=IntentKind.CURTAILMENT, active=True).exists()


@pytest.fixture
def household_rule() -> str:
    return "battery_ok"


@pytest.fixture
def curtail_site(upstream, linked_site, household_rule) -> Site:
    """Curtailment on, live price sync off (the tariff is not what these tests are about); the
    Powerwall holds the household's export rule (the simulator's state outlives a test, so it
    is set every time)."""
    Site.objects.filter(pk=linked_site.pk).update(curtailment_enabled=True, tou_sync_enabled=False)
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

    assert evaluate(curtail_site, None, midday) == CurtailOutcome.CURTAILED
    assert held(upstream, curtail_site)["export_rule"] == "never"
    intent = SiteIntent.objects.get(site=curtail_site, kind=IntentKind.CURTAILMENT)
    assert (intent.active, intent.since) == (True, midday)
    state = state_of(curtail_site)
    assert (state.household_export_rule, state.export_rule_owner) == ("pv_only", "curtailment")
    command = DeviceCommand.objects.get(site=curtail_site)
    assert (command.kind, command.payload, command.status, command.intent) == (
        "export_rule",
        {"export_rule": "never"},
        "succeeded",
        "curtailment",
    )
    assert "Exporting earns -" in command.reason

    # Prices turn positive: restored only after two 5-minute intervals, each counted once.
    control(upstream, "/scenario", {"name": "normal"})
    steps = [("12:07:00", "calming"), ("12:08:30", "counted"), ("12:12:00", "restored")]
    for clock, expected in steps:
        now = dt.datetime.fromisoformat(f"2025-06-28T{clock}+10:00")
        control(upstream, "/clock", {"now": now.isoformat(), "speed": 0})
        assert evaluate(curtail_site, None, now) == expected

    assert held(upstream, curtail_site)["export_rule"] == "pv_only"
    assert rules_sent(writes) == ["never", "pv_only"]
    state.refresh_from_db()
    assert not curtailing(curtail_site)
    assert (state.export_rule_owner, state.curtailment_calm_intervals) == ("", 0)
    decisions = list(
        Event.objects.filter(site=curtail_site, intent__in=["curtailment", "household"])
        .order_by("id")
        .values_list("decision", flat=True)
    )
    assert decisions == [
        "Solar export stopped: exporting would cost money",
        "Export rule set to never",
        "Solar export allowed again",
        "Export rule back to yours: pv_only",
    ]


@pytest.mark.parametrize("household_rule", ["never"])
def test_tesla_already_never_is_nudged_through_pv_only(upstream, curtail_site, writes):
    assert check(curtail_site, COSTS, minutes=0) == CurtailOutcome.CURTAILED
    assert rules_sent(writes) == ["pv_only", "never"]
    assert held(upstream, curtail_site)["export_rule"] == "never"
    # The household's own rule was never: that is what comes back (nothing to send then).
    assert state_of(curtail_site).household_export_rule == "never"
    reasons = list(
        DeviceCommand.objects.filter(site=curtail_site)
        .order_by("id")
        .values_list("payload", "reason")
    )
    assert reasons[0][0] == {"export_rule": "pv_only"}
    assert "already says never" in reasons[0][1]
    for minutes in (6, 11):
        check(curtail_site, EARNS, minutes=minutes)
    assert not curtailing(curtail_site)
    assert rules_sent(writes) == ["pv_only", "never"]


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
    now = FROZEN_NOW + dt.timedelta(minutes=1)
    end = interval_end_after(now)
    for expected in (CurtailOutcome.CURTAILED, CurtailOutcome.IN_FORCE):
        assert evaluate(curtail_site, COSTS, now, end) == expected
    assert rules_sent(writes) == ["never"]
    # A copy that meets another reconcile of the site leaves its request to the holder.
    lock = redis_client().lock(redis_key("lock", "site", curtail_site.pk), timeout=10)
    assert lock.acquire(blocking=False)
    try:
        # The check runs at once, alone; the holder reconciles what it changed.
        result = site_reconcile(
            site_id=curtail_site.pk,
            check=CurtailmentCheck(feed_in_c_per_kwh=EARNS),
            now=FROZEN_NOW + dt.timedelta(minutes=7),
        )
        assert result.outcome == Outcome.BUSY
        assert result.checked == Checked(CurtailOutcome.CALMING, changed=False)
    finally:
        lock.release()
    assert check(curtail_site, EARNS, minutes=7) == CurtailOutcome.COUNTED
    assert check(curtail_site, EARNS, minutes=12) == CurtailOutcome.RESTORED
    assert check(curtail_site, EARNS, minutes=12) == CurtailOutcome.NORMAL
    assert rules_sent(writes) == ["never", "battery_ok"]
    assert DeviceCommand.objects.filter(site=curtail_site).count() == 2


def test_price_of_an_interval_that_is_over_is_ignored(upstream, curtail_site, writes):
    outcome = evaluate(curtail_site, COSTS, FROZEN_NOW, FROZEN_NOW - dt.timedelta(minutes=4))
    assert outcome == CurtailOutcome.STALE
    assert writes() == []


@pytest.mark.parametrize("household_rule", ["pv_only"])
def test_crash_after_the_command_is_repaired_from_the_write_ahead(upstream, curtail_site, writes):
    """A worker wrote ahead (owner, the household's rule, unsure), sent "never", and died before
    recording it: the next pass reads the Powerwall back and never takes "never" for the
    household's own rule."""
    check(curtail_site, COSTS, minutes=0)
    AutomationState.objects.filter(site=curtail_site).update(
        held_unsure=True, held_export_rule="pv_only"
    )
    site_reconcile(site_id=curtail_site.pk, now=FROZEN_NOW + dt.timedelta(minutes=1))
    state = state_of(curtail_site)
    assert (state.held_unsure, state.held_export_rule) == (False, "never")
    assert state.household_export_rule == "pv_only"
    assert rules_sent(writes) == ["never"]  # read back, nothing sent twice
    for minutes in (6, 11):
        check(curtail_site, EARNS, minutes=minutes)
    assert held(upstream, curtail_site)["export_rule"] == "pv_only"


def test_disabled_site_does_nothing(upstream, curtail_site, writes):
    Site.objects.filter(pk=curtail_site.pk).update(curtailment_enabled=False)
    assert check(curtail_site, COSTS, minutes=0) == CurtailOutcome.DISABLED
    assert writes() == []
    assert not curtailing(curtail_site)
    assert curtail_site.pk not in sites_to_check()


def test_turning_curtailment_off_mid_episode_restores(upstream, curtail_site, writes):
    check(curtail_site, COSTS, minutes=0)
    Site.objects.filter(pk=curtail_site.pk).update(curtailment_enabled=False)
    assert curtail_site.pk in sites_to_check()  # still curtailed: the beat keeps checking it
    assert check(curtail_site, COSTS, minutes=1) == CurtailOutcome.RESTORED
    assert rules_sent(writes) == ["never", "battery_ok"]
    assert curtail_site.pk not in sites_to_check()


def test_a_force_discharge_outranks_curtailment_which_comes_back_after_it(
    upstream, curtail_site, writes, django_capture_on_commit_callbacks
):
    """Curtailment keeps its intent while a force discharge exports (battery_ok), and its never
    is back when the discharge ends: nothing undoes it while feed-in still costs."""
    start = FROZEN_NOW + dt.timedelta(minutes=1)
    assert evaluate(curtail_site, COSTS, start) == CurtailOutcome.CURTAILED
    with django_capture_on_commit_callbacks(execute=False):
        until = force_discharge_start(site=curtail_site, minutes=15, now=start)
    site_reconcile(site_id=curtail_site.pk, now=start)
    assert held(upstream, curtail_site)["export_rule"] == "battery_ok"
    assert check(curtail_site, COSTS, minutes=6) == CurtailOutcome.IN_FORCE
    assert held(upstream, curtail_site)["export_rule"] == "battery_ok"  # still discharging
    site_reconcile(site_id=curtail_site.pk, now=until)
    assert held(upstream, curtail_site)["export_rule"] == "never"  # curtailment, not battery_ok
    assert curtailing(curtail_site)
    assert rules_sent(writes) == ["never", "battery_ok", "never"]
    state = state_of(curtail_site)
    assert (state.export_rule_owner, state.household_export_rule) == ("curtailment", "battery_ok")


def test_site_needing_reauthorisation_is_not_checked_and_sends_nothing(
    upstream, curtail_site, writes
):
    Site.objects.filter(pk=curtail_site.pk).update(needs_reauthorisation=True)
    check(curtail_site, COSTS, minutes=0)
    assert writes() == []
    assert curtail_site.pk not in sites_to_check()
    assert state_of(curtail_site).last_reconcile_outcome == Outcome.PAUSED


def test_a_check_that_changes_nothing_still_brings_a_site_out_of_step_back(
    upstream, curtail_site, writes
):
    """The pass stops at an unchanged check only when the Powerwall is in step: a site whose
    last reconcile was cut short (a write of unknown outcome) is read back and put right by the
    next check, though curtailment itself stays as it was."""
    assert check(curtail_site, COSTS, minutes=1) == CurtailOutcome.CURTAILED
    assert check(curtail_site, COSTS, minutes=2) == CurtailOutcome.IN_FORCE
    assert rules_sent(writes) == ["never"]  # in step: the unchanged check wrote nothing
    # The Powerwall's rule moved, and the last pass did not know what it left behind.
    tesla_client_for(curtail_site).set_grid_import_export(
        int(curtail_site.tesla_energy_site_id), export_rule="battery_ok"
    )
    AutomationState.objects.filter(site=curtail_site).update(in_step=False, held_unsure=True)
    assert check(curtail_site, COSTS, minutes=3) == CurtailOutcome.IN_FORCE
    assert rules_sent(writes)[-1] == "never"
    assert held(upstream, curtail_site)["export_rule"] == "never"
    assert state_of(curtail_site).in_step


def test_check_site_task_passes_the_listener_price_through(curtail_site):
    with mock.patch.object(curtail.reconcile, "site_reconcile") as reconcile:
        curtail.check_site(curtail_site.pk, "-3.25", "2025-06-28T06:25:00+00:00")
        curtail.check_site(curtail_site.pk)
    assert [c.kwargs["site_id"] for c in reconcile.call_args_list] == [curtail_site.pk] * 2
    assert [c.kwargs["check"] for c in reconcile.call_args_list] == [
        CurtailmentCheck(Decimal("-3.25"), dt.datetime(2025, 6, 28, 6, 25, tzinfo=dt.UTC)),
        CurtailmentCheck(None, None),
    ]


def test_check_site_task_reads_amber_when_no_price_is_given(upstream, curtail_site, writes):
    # 16:24 normal scenario: exporting earns money, so nothing happens.
    curtail.check_site(curtail_site.pk)
    assert writes() == []
    assert not curtailing(curtail_site)


def test_check_all_fans_out_with_expiry(curtail_site):
    with mock.patch.object(curtail.check_site, "apply_async") as queued:
        curtail.check_all()
    queued.assert_called_once_with((curtail_site.pk,), expires=curtail.CHECK_EXPIRES_SECONDS)


def test_turning_curtailment_off_restores_at_the_next_reconcile(upstream, curtail_site, writes):
    """Settings changes queue a reconcile (devices.services): it ends the intent of an
    automation switched off without waiting for that automation's next check."""
    check(curtail_site, COSTS, minutes=0)
    Site.objects.filter(pk=curtail_site.pk).update(curtailment_enabled=False)
    site_reconcile(site_id=curtail_site.pk, now=FROZEN_NOW + dt.timedelta(seconds=20))
    assert rules_sent(writes) == ["never", "battery_ok"]
    assert not curtailing(curtail_site)
    assert Event.objects.filter(
        site=curtail_site, decision="Solar curtailment ended: turned off"
    ).exists()
