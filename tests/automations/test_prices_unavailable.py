"""Amber down or answering garbage: within the cycle the household sees "prices unavailable since
HH:MM" (one event, the dashboard), the Powerwall keeps the last good tariff, and it clears, with
one event, at the first sync that gets prices again."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import cast

import pytest
from celery import Task

from automations.models import AutomationState
from automations.routine import SyncOutcome
from households.models import Event
from pricing.providers import amber
from tasks.policy import upstream_policy
from tests.automations.conftest import FROZEN_NOW, control, site_sync

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def minutes(n: int) -> dt.datetime:
    return FROZEN_NOW + dt.timedelta(minutes=n)


@pytest.mark.parametrize(
    ("scenario", "params", "error"),
    [
        ("amber_outage", {}, amber.Unavailable),
        ("malformed_json", {"services": ["amber"]}, amber.InvalidResponse),
    ],
)
def test_an_amber_failure_is_shown_once_and_cleared_once(
    upstream, linked_site, new_tesla_writes, scenario, params, error
):
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == (
        SyncOutcome.PUSHED
    )
    pushed = len(new_tesla_writes())
    control(upstream, "/scenario", {"name": scenario, "params": params})
    for later in (5, 10):
        with pytest.raises(error):
            site_sync(site_id=linked_site.pk, reason="forecast", now=minutes(later))
    state = AutomationState.objects.get(site=linked_site)
    assert state.prices_unavailable_since == minutes(5)
    assert state.last_sync_outcome == SyncOutcome.FAILED
    local = minutes(5).astimezone(linked_site.zone)
    assert f"prices unavailable since {local:%H:%M}" in state.last_sync_detail
    down = Event.objects.filter(site=linked_site, decision__startswith="Prices unavailable")
    assert down.count() == 1
    assert down.get().intent == "routine"
    assert error.__name__ in down.get().reason
    assert len(new_tesla_writes()) == pushed  # the last good tariff stays

    control(upstream, "/scenario", {"name": "normal"})
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=minutes(15)) in (
        SyncOutcome.PUSHED,
        SyncOutcome.UNCHANGED,
    )
    site_sync(site_id=linked_site.pk, reason="settled", now=minutes(16))
    state = AutomationState.objects.get(site=linked_site)
    assert state.prices_unavailable_since is None
    back = Event.objects.filter(site=linked_site, decision__startswith="Prices are back")
    assert back.count() == 1
    assert f"from {local:%H:%M}" in back.get().reason


def fake_task(retries: int, max_retries: int | None = 2) -> Task:
    """What upstream_policy reads of a task: its try count and its limit."""
    task = SimpleNamespace(request=SimpleNamespace(retries=retries), max_retries=max_retries)
    return cast(Task, task)


def test_a_transient_failure_is_retried_until_the_last_try_which_ends_quietly(caplog):
    for retries in (0, 1):
        with pytest.raises(amber.Unavailable), upstream_policy(fake_task(retries), 7):
            raise amber.Unavailable("503")
    with upstream_policy(fake_task(2), 7):
        raise amber.Unavailable("503")
    assert "site 7: Unavailable after 2 retries" in caplog.text
    with pytest.raises(amber.Unavailable), upstream_policy(fake_task(9, None), 7):
        raise amber.Unavailable("503")  # no limit: always retried


def test_a_malformed_amber_reply_is_not_retried(caplog):
    with upstream_policy(fake_task(0), 7):
        raise amber.InvalidResponse("not JSON")
    assert "site 7: Amber not JSON" in caplog.text
