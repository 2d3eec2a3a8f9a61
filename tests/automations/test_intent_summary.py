"""The site's intent summary (``AutomationState.intent_kinds``): a reconcile pass changes intents
with the summary it read, in one conditional write; a change made meanwhile elsewhere is never
lost (the write falls back to locking the row and reading it)."""

from __future__ import annotations

import datetime as dt

import pytest

from automations.intents import SiteIntents, intent_clear, intent_set
from automations.models import AutomationState, IntentKind, SiteIntent
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)


def summary(site) -> str:
    return AutomationState.objects.get(site=site).intent_kinds


def active(site) -> set[str]:
    return set(SiteIntent.objects.filter(site=site, active=True).values_list("kind", flat=True))


def test_a_view_read_before_another_change_loses_neither():
    site = SiteFactory.create()
    AutomationState.objects.create(site=site, intent_kinds="routine")
    view = SiteIntents(site.pk, site.household_id, "routine")
    # Meanwhile, outside the pass: the household starts a force discharge.
    intent_set(
        site_id=site.pk, household_id=site.household_id, kind=IntentKind.FORCE_DISCHARGE, why="x"
    )
    assert view.set(IntentKind.SPIKE, why="AEMO spike", now=NOW)
    assert summary(site) == "force_discharge,spike,routine"
    assert active(site) == {"force_discharge", "spike"}  # routine's row: never written here
    # The view's own summary is stale about the force discharge; clearing still finds it right.
    assert view.clear(IntentKind.SPIKE, why="over")
    assert summary(site) == "force_discharge,routine"
    assert not view.clear(IntentKind.SPIKE, why="over again")


def test_the_view_follows_its_own_changes():
    site = SiteFactory.create()
    AutomationState.objects.create(site=site)
    view = SiteIntents(site.pk, site.household_id, "")
    assert view.set(IntentKind.CURTAILMENT, why="costs", data={"a": 1}, now=NOW)
    later = NOW + dt.timedelta(minutes=1)
    assert not view.set(IntentKind.CURTAILMENT, why="still costs", data={"a": 2}, now=later)
    intent = view.of(IntentKind.CURTAILMENT)
    assert intent is not None
    assert (intent.since, intent.why, intent.data) == (
        NOW,
        "still costs",
        {"a": 2},
    )
    row = SiteIntent.objects.get(site=site, kind=IntentKind.CURTAILMENT)
    assert (row.since, row.why, row.data) == (NOW, "still costs", {"a": 2})
    assert view.kinds == summary(site) == "curtailment"
    assert intent_clear(
        site_id=site.pk, household_id=site.household_id, kind=IntentKind.CURTAILMENT, why="ok"
    )
    assert summary(site) == ""
    assert active(site) == set()
