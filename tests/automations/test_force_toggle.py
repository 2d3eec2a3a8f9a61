"""Force mode toggle against the simulated Powerwall: self_consumption, then autonomous from a task
scheduled 5 s later; only after confirmed settled-price pushes; at most once per interval."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from devices.clients import tesla_client_for
from devices.force_toggle import (
    TOGGLE_DELAY_SECONDS,
    ToggleOutcome,
    force_toggle_after_push,
    force_toggle_begin,
    force_toggle_end,
    sites_with_overdue_toggle,
)
from devices.models import AutomationState, DeviceCommand, Site
from households.models import Event
from tariffs.models import TariffPush
from tariffs.sync import SyncOutcome, site_sync
from tasks import curtail
from tests.automations.conftest import FROZEN_NOW, control, tesla_history

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

Writes = Callable[[], list[dict[str, Any]]]
LATER = FROZEN_NOW + dt.timedelta(seconds=40)  # settled prices arrive ~35-60 s in


def modes_sent(writes: Writes) -> list[str]:
    return [w["body"]["default_real_mode"] for w in writes() if w["command"] == "operation"]


def held_mode(upstream, site: Site) -> str:
    mode: str = control(upstream, f"/tesla/sites/{site.tesla_energy_site_id}")["operation_mode"]
    return mode


@pytest.fixture
def toggle_site(upstream, linked_site) -> Site:
    Site.objects.filter(pk=linked_site.pk).update(force_mode_toggle_enabled=True)
    linked_site.refresh_from_db()
    tesla_client_for(linked_site).set_operation_mode(
        int(linked_site.tesla_energy_site_id), "autonomous"
    )
    return linked_site


@pytest.fixture
def settled_push(toggle_site) -> TariffPush:
    """A real settled-price sync: pushed to the simulator and confirmed by read-back."""
    assert site_sync(site_id=toggle_site.pk, reason="settled", now=LATER) == SyncOutcome.PUSHED
    push = TariffPush.objects.get(site=toggle_site)
    assert (push.reason, push.status) == ("settled", "confirmed")
    return push


@pytest.fixture
def writes(upstream, toggle_site, settled_push) -> Writes:
    """Callable: the writes the simulated Powerwall received after the push."""
    history = tesla_history(upstream, toggle_site)
    seen = max((w["seq"] for w in history), default=0)
    return lambda: [w for w in tesla_history(upstream, toggle_site) if w["seq"] > seen]


def test_self_consumption_then_autonomous_from_a_scheduled_task(
    upstream, toggle_site, settled_push, writes
):
    with mock.patch.object(curtail.toggle_end, "apply_async") as scheduled:
        curtail.toggle_begin(toggle_site.pk, settled_push.pk)
    scheduled.assert_called_once_with((toggle_site.pk,), countdown=TOGGLE_DELAY_SECONDS)
    assert held_mode(upstream, toggle_site) == "self_consumption"
    state = AutomationState.objects.get(site=toggle_site)
    assert state.force_toggle_restore_due is not None
    assert state.force_toggle_interval_start is not None

    curtail.toggle_end(toggle_site.pk)  # what the worker runs 5 s later
    assert held_mode(upstream, toggle_site) == "autonomous"
    assert modes_sent(writes) == ["self_consumption", "autonomous"]
    commands = DeviceCommand.objects.filter(site=toggle_site, kind="operation_mode")
    assert [c.status for c in commands] == ["succeeded", "succeeded"]
    assert all("Force mode toggle" in c.reason for c in commands)
    state.refresh_from_db()
    assert state.force_toggle_restore_due is None
    assert Event.objects.filter(site=toggle_site, automation="force_toggle").count() == 1

    # A duplicate of the end task sends nothing.
    curtail.toggle_end(toggle_site.pk)
    assert modes_sent(writes) == ["self_consumption", "autonomous"]


def test_sync_entry_point_queues_only_settled_confirmed_pushes(
    toggle_site, settled_push, django_capture_on_commit_callbacks
):
    forecast = TariffPush.objects.create(
        site=toggle_site, reason="forecast", status=TariffPush.Status.CONFIRMED
    )
    mismatch = TariffPush.objects.create(
        site=toggle_site, reason="settled", status=TariffPush.Status.MISMATCH
    )
    with mock.patch.object(curtail.toggle_begin, "apply_async") as queued:
        with django_capture_on_commit_callbacks(execute=True):
            force_toggle_after_push(site_id=toggle_site.pk, push_id=forecast.pk)
            force_toggle_after_push(site_id=toggle_site.pk, push_id=mismatch.pk)
        queued.assert_not_called()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            force_toggle_after_push(site_id=toggle_site.pk, push_id=settled_push.pk)
    assert len(callbacks) == 1
    queued.assert_called_once_with((toggle_site.pk, settled_push.pk), expires=mock.ANY)


def test_forecast_push_does_not_toggle(toggle_site, settled_push, writes):
    TariffPush.objects.filter(pk=settled_push.pk).update(reason="forecast")
    with mock.patch.object(curtail.toggle_end, "apply_async") as scheduled:
        curtail.toggle_begin(toggle_site.pk, settled_push.pk)
    scheduled.assert_not_called()
    assert writes() == []
    outcome = force_toggle_begin(site_id=toggle_site.pk, push_id=settled_push.pk, now=LATER)
    assert outcome == ToggleOutcome.NOT_SETTLED


def test_at_most_once_per_interval(upstream, toggle_site, settled_push, writes):
    begin = force_toggle_begin
    assert begin(site_id=toggle_site.pk, push_id=settled_push.pk, now=LATER) == "toggled"
    assert force_toggle_end(site_id=toggle_site.pk)
    # A second settled sync of the same interval (or a duplicate delivery): no second toggle.
    again = LATER + dt.timedelta(seconds=15)  # 16:24:55, same 16:20-16:25 interval
    assert begin(site_id=toggle_site.pk, push_id=settled_push.pk, now=again) == (
        ToggleOutcome.ALREADY_THIS_INTERVAL
    )
    assert modes_sent(writes) == ["self_consumption", "autonomous"]
    # The next interval may toggle again.
    next_interval = LATER + dt.timedelta(minutes=5)
    assert begin(site_id=toggle_site.pk, push_id=settled_push.pk, now=next_interval) == "toggled"
    assert modes_sent(writes) == ["self_consumption", "autonomous", "self_consumption"]


def test_opted_out_site_does_nothing(toggle_site, settled_push, writes):
    Site.objects.filter(pk=toggle_site.pk).update(force_mode_toggle_enabled=False)
    outcome = force_toggle_begin(site_id=toggle_site.pk, push_id=settled_push.pk, now=LATER)
    assert outcome == ToggleOutcome.DISABLED
    assert writes() == []


def test_no_toggle_while_a_force_discharge_owns_the_battery(toggle_site, settled_push, writes):
    AutomationState.objects.filter(site=toggle_site).update(
        force_discharge_until=LATER + dt.timedelta(minutes=30)
    )
    outcome = force_toggle_begin(site_id=toggle_site.pk, push_id=settled_push.pk, now=LATER)
    assert outcome == ToggleOutcome.PAUSED
    assert writes() == []


def test_lost_end_task_is_finished_by_the_repair_sweep(upstream, toggle_site, settled_push, writes):
    assert force_toggle_begin(site_id=toggle_site.pk, push_id=settled_push.pk, now=LATER) == (
        ToggleOutcome.TOGGLED
    )
    due = AutomationState.objects.get(site=toggle_site).force_toggle_restore_due
    assert due is not None
    assert sites_with_overdue_toggle(now=due) == []  # the scheduled task still has its chance
    assert sites_with_overdue_toggle(now=due + dt.timedelta(seconds=31)) == [toggle_site.pk]
    with mock.patch.object(curtail.toggle_end, "apply_async") as queued:
        curtail.toggle_repair()  # real now is long after the frozen simulator moment
    queued.assert_called_once_with((toggle_site.pk,), expires=curtail.CHECK_EXPIRES_SECONDS)
    curtail.toggle_end(toggle_site.pk)
    assert held_mode(upstream, toggle_site) == "autonomous"
    assert modes_sent(writes) == ["self_consumption", "autonomous"]
