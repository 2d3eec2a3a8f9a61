"""Putting a saved profile or a custom plan on a Powerwall through the API: a household hold."""

from __future__ import annotations

import pytest

from automations import dispatch
from automations.models import IntentKind, SiteIntent
from households.models import Event
from tariffs.engine.fingerprint import tariff_fingerprint

pytestmark = pytest.mark.django_db


def hold_of(site) -> SiteIntent:
    return SiteIntent.objects.get(site=site, kind=IntentKind.HOUSEHOLD_HOLD, active=True)


def test_profile_is_held_on_its_own_site(
    api, world, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/profiles/{world.profile.pk}/push/", {}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["site"] == world.site.pk
    assert "held until you resume price sync" in response.json()["detail"]
    hold = hold_of(world.site)
    assert hold.data["tariff"] == world.profile.tariff_content
    assert hold.data["fingerprint"] == tariff_fingerprint(world.profile.tariff_content)
    assert (hold.data["source"], hold.data["source_id"], hold.until) == (
        "profile",
        world.profile.pk,
        None,
    )
    assert sent_tasks.calls == [(dispatch.RECONCILE_TASK, [world.site.pk], {"queue": "sync"})]
    assert Event.objects.filter(site=world.site, intent="household_hold").exists()


def test_plan_needs_a_site_and_goes_where_asked_for_the_hours_asked(
    api, world, sent_tasks, django_capture_on_commit_callbacks
):
    url = f"/api/v1/schedules/{world.schedule.pk}/push/"
    missing = api.post(url, {}, format="json")
    assert missing.status_code == 400
    assert "site" in missing.json()["error"]["fields"]
    wrong_hours = api.post(url, {"site": world.custom_site.pk, "hours": 5}, format="json")
    assert wrong_hours.status_code == 400
    assert "hours" in wrong_hours.json()["error"]["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url, {"site": world.custom_site.pk, "hours": 3}, format="json")
    assert response.status_code == 202
    hold = hold_of(world.custom_site)
    assert hold.data["source"] == "plan"
    assert "energy_charges" in hold.data["tariff"]
    assert hold.until is not None
    assert hold.since is not None
    assert (hold.until - hold.since).total_seconds() == 3 * 3600
    assert len(sent_tasks.calls) == 2  # now, and when the hold ends


def test_another_households_site_or_profile_is_refused(api, world, other, sent_tasks):
    into_theirs = api.post(
        f"/api/v1/profiles/{world.profile.pk}/push/", {"site": other.site.pk}, format="json"
    )
    assert into_theirs.status_code == 400
    theirs = api.post(f"/api/v1/profiles/{other.profile.pk}/push/", {}, format="json")
    assert theirs.status_code == 404
    assert not SiteIntent.objects.exists()
    assert sent_tasks.calls == []


def test_a_tariff_tesla_would_refuse_is_a_400_and_nothing_is_held(api, world, sent_tasks):
    world.profile.tariff_content = {"version": 1, "seasons": {}}
    world.profile.save()
    response = api.post(f"/api/v1/profiles/{world.profile.pk}/push/", {}, format="json")
    assert response.status_code == 400
    assert "tariff" in response.json()["error"]["fields"]
    assert not SiteIntent.objects.exists()
    assert sent_tasks.calls == []
