"""Household holds against the simulated Powerwall: a plan put on a site with live price sync on
stays there (the next sync no longer overwrites it), until the household resumes or its hours
are up; a spike outranks it, and it comes back when the spike ends."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from automations import dispatch
from automations.holds import household_hold_end, household_hold_start
from automations.models import AutomationState, IntentKind, SiteIntent
from automations.reconcile import site_reconcile
from automations.routine import SyncOutcome
from automations.selectors import site_control
from devices.models import Site
from households.models import Event
from tariffs.engine.custom_tou import schedule_from_dict
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.tesla_format import TariffInvalid, render_custom_tariff
from tariffs.models import TariffPush
from tests.automations.conftest import FROZEN_NOW, control, site_sync, spike_check

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

EXAMPLE = Path(__file__).resolve().parents[1] / "tariffs/engine/data/custom_schedule_example.json"
LATER = FROZEN_NOW + dt.timedelta(seconds=35)


@pytest.fixture
def plan() -> dict[str, Any]:
    content: dict[str, Any] = render_custom_tariff(
        schedule_from_dict(json.loads(EXAMPLE.read_text()))
    )
    return content


def held_fingerprint(upstream, site: Site) -> str:
    held = control(upstream, f"/tesla/sites/{site.tesla_energy_site_id}")["tariff_content_v2"]
    return tariff_fingerprint(held)


def hold(site: Site, content: dict[str, Any], *, hours: int | None = None) -> list[Any]:
    """Hold ``content`` (as the push button does); returns the reconciles it queued."""
    with mock.patch.object(dispatch, "_send") as queued:
        household_hold_start(
            site=site,
            tariff_content=content,
            name="Winter",
            source="plan",
            source_id=7,
            hours=hours,
            now=FROZEN_NOW,
        )
    return [c.args for c in queued.call_args_list]


def test_a_held_plan_is_not_overwritten_by_the_next_sync(
    upstream, linked_site, plan, new_tesla_writes
):
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == (
        SyncOutcome.PUSHED
    )
    queued = hold(linked_site, plan)
    assert queued == [(dispatch.RECONCILE_TASK, [linked_site.pk])]
    site_reconcile(site_id=linked_site.pk, now=FROZEN_NOW)
    assert held_fingerprint(upstream, linked_site) == tariff_fingerprint(plan)
    push = TariffPush.objects.filter(site=linked_site).latest("id")
    assert (push.reason, push.status) == ("custom", "confirmed")

    # Beat's settled sync comes: the hold decides the tariff, the sync says so and sends nothing.
    writes = len(new_tesla_writes())
    assert site_sync(site_id=linked_site.pk, reason="settled", now=LATER) == SyncOutcome.HELD
    assert len(new_tesla_writes()) == writes
    assert held_fingerprint(upstream, linked_site) == tariff_fingerprint(plan)

    control_now = site_control(site=Site.objects.get(pk=linked_site.pk), now=LATER)
    assert control_now.headline == "Your plan “Winter”, held until you resume"
    assert control_now.household_hold
    assert [line.kind for line in control_now.waiting] == ["routine"]

    # The household resumes: live prices again, built from fresh prices.
    with mock.patch.object(dispatch, "_send"):
        assert household_hold_end(site=linked_site, by="alice")
    site_reconcile(site_id=linked_site.pk, now=LATER)
    assert held_fingerprint(upstream, linked_site) != tariff_fingerprint(plan)
    latest = TariffPush.objects.filter(site=linked_site).latest("id")
    assert (latest.reason, latest.status) == ("resume", "confirmed")
    state = AutomationState.objects.get(site=linked_site)
    assert state.tariff_owner == IntentKind.ROUTINE
    assert Event.objects.filter(site=linked_site, decision="Hold ended: back to live prices")


def test_a_hold_for_hours_ends_by_itself(upstream, linked_site, plan):
    queued = hold(linked_site, plan, hours=3)
    assert len(queued) == 2  # now, and when it ends
    site_reconcile(site_id=linked_site.pk, now=FROZEN_NOW)
    assert held_fingerprint(upstream, linked_site) == tariff_fingerprint(plan)
    ended = FROZEN_NOW + dt.timedelta(hours=3)
    control(upstream, "/clock", {"now": ended.isoformat(), "speed": 0})
    site_reconcile(site_id=linked_site.pk, now=ended)
    assert held_fingerprint(upstream, linked_site) != tariff_fingerprint(plan)
    assert not SiteIntent.objects.get(site=linked_site, kind=IntentKind.HOUSEHOLD_HOLD).active


def test_a_spike_outranks_the_hold_and_the_hold_comes_back_after_it(
    upstream, linked_site, plan, household_upstream
):
    Site.objects.filter(pk=linked_site.pk).update(
        spike_detection_enabled=True, aemo_region=household_upstream["region"]
    )
    hold(linked_site, plan)
    site_reconcile(site_id=linked_site.pk, now=FROZEN_NOW)

    spike_check(linked_site, "5000", minutes=1)
    assert held_fingerprint(upstream, linked_site) != tariff_fingerprint(plan)
    control_now = site_control(site=Site.objects.get(pk=linked_site.pk), now=FROZEN_NOW)
    assert control_now.in_control[0].kind == "spike"
    assert control_now.in_control[0].summary == "Spike response until prices fall below $270.00/MWh"
    assert "household_hold" in [line.kind for line in control_now.waiting]
    for minutes in (10, 15):
        spike_check(linked_site, "100", minutes=minutes)
    assert held_fingerprint(upstream, linked_site) == tariff_fingerprint(plan)


def test_a_tariff_tesla_would_refuse_is_refused_before_anything_is_held(linked_site, plan):
    broken = {**plan, "energy_charges": "nope"}
    with pytest.raises(TariffInvalid):
        hold(linked_site, broken)
    assert not SiteIntent.objects.filter(site=linked_site, kind=IntentKind.HOUSEHOLD_HOLD)
