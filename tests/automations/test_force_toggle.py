"""Force mode toggle against the simulated Powerwall: after a confirmed settled-price push the
toggle intent wants self_consumption for 5 s; the reconcile scheduled for its end gives the
household's autonomous back. At most once per interval, never over a force discharge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from automations import dispatch
from automations.force_discharge import force_discharge_start
from automations.force_toggle import TOGGLE_SECONDS
from automations.models import AutomationState, IntentKind, SiteIntent
from automations.reconcile import site_reconcile
from automations.routine import SyncOutcome
from automations.selectors import sites_to_sweep
from devices.clients import tesla_client_for
from devices.models import DeviceCommand, Site
from tariffs.models import TariffPush
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
def writes(upstream, toggle_site) -> Writes:
    """Callable: the writes the simulated Powerwall received after the site was set up."""
    history = tesla_history(upstream, toggle_site)
    seen = max((w["seq"] for w in history), default=0)
    return lambda: [w for w in tesla_history(upstream, toggle_site) if w["seq"] > seen]


def sync(site: Site, reason: str, now: dt.datetime) -> tuple[SyncOutcome | None, list[Any]]:
    """A sync; returns its outcome and what it queued (not run: the test runs the end)."""
    with mock.patch.object(dispatch, "_send") as queued:
        outcome = site_reconcile(site_id=site.pk, routine=reason, now=now).sync
    return outcome, [c.args for c in queued.call_args_list]


def test_self_consumption_then_autonomous_from_a_scheduled_reconcile(upstream, toggle_site, writes):
    outcome, queued = sync(toggle_site, "settled", LATER)
    assert outcome == SyncOutcome.PUSHED
    push = TariffPush.objects.get(site=toggle_site)
    assert (push.reason, push.status) == ("settled", "confirmed")
    assert held_mode(upstream, toggle_site) == "self_consumption"
    assert modes_sent(writes) == ["self_consumption"]
    # The way back is a reconcile queued for the toggle's end, never a sleeping worker.
    assert queued == [(dispatch.RECONCILE_TASK, [toggle_site.pk])]
    toggle = SiteIntent.objects.get(site=toggle_site, kind=IntentKind.FORCE_TOGGLE)
    assert toggle.until == LATER + dt.timedelta(seconds=TOGGLE_SECONDS)

    site_reconcile(site_id=toggle_site.pk, now=toggle.until)
    assert held_mode(upstream, toggle_site) == "autonomous"
    assert modes_sent(writes) == ["self_consumption", "autonomous"]
    commands = DeviceCommand.objects.filter(site=toggle_site, kind="operation_mode")
    assert set(commands.values_list("intent", flat=True)) == {"force_toggle", "household"}
    assert not SiteIntent.objects.get(site=toggle_site, kind=IntentKind.FORCE_TOGGLE).active


def test_forecast_push_does_not_toggle(upstream, toggle_site, writes):
    outcome, queued = sync(toggle_site, "forecast", FROZEN_NOW)
    assert outcome == SyncOutcome.PUSHED
    assert modes_sent(writes) == []
    assert queued == []


def test_at_most_once_per_interval(upstream, toggle_site, writes):
    sync(toggle_site, "settled", LATER)
    site_reconcile(site_id=toggle_site.pk, now=LATER + dt.timedelta(seconds=TOGGLE_SECONDS))
    # A second settled push in the same 5-minute interval (the tariff changed again).
    AutomationState.objects.filter(site=toggle_site).update(held_tariff_fingerprint="other")
    TariffPush.objects.filter(site=toggle_site).update(status=TariffPush.Status.FAILED)
    outcome, queued = sync(toggle_site, "settled", LATER + dt.timedelta(seconds=10))
    assert outcome == SyncOutcome.PUSHED
    assert queued == []
    assert modes_sent(writes) == ["self_consumption", "autonomous"]


def test_opted_out_site_does_nothing(upstream, toggle_site, writes):
    Site.objects.filter(pk=toggle_site.pk).update(force_mode_toggle_enabled=False)
    sync(toggle_site, "settled", LATER)
    assert modes_sent(writes) == []


def test_no_toggle_while_a_force_discharge_owns_the_battery(upstream, toggle_site, writes):
    with mock.patch.object(dispatch, "_send"):
        force_discharge_start(site=toggle_site, minutes=30, now=FROZEN_NOW)
    site_reconcile(site_id=toggle_site.pk, now=FROZEN_NOW)
    before = modes_sent(writes)
    outcome, _ = sync(toggle_site, "settled", LATER)
    assert outcome == SyncOutcome.HELD  # the discharge holds the tariff: nothing to toggle after
    assert modes_sent(writes) == before
    assert not SiteIntent.objects.filter(site=toggle_site, kind=IntentKind.FORCE_TOGGLE).exists()


def test_a_lost_end_reconcile_is_done_by_the_sweep(upstream, toggle_site, writes):
    sync(toggle_site, "settled", LATER)  # its queued end reconcile is dropped here
    end = LATER + dt.timedelta(seconds=TOGGLE_SECONDS)
    assert toggle_site.pk not in sites_to_sweep(now=end - dt.timedelta(seconds=1))
    assert toggle_site.pk in sites_to_sweep(now=end + dt.timedelta(seconds=30))
    site_reconcile(site_id=toggle_site.pk, now=end + dt.timedelta(seconds=30))
    assert held_mode(upstream, toggle_site) == "autonomous"
    assert toggle_site.pk not in sites_to_sweep(now=end + dt.timedelta(seconds=90))
