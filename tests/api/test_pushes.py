"""Pushing a saved profile or a custom plan to a Powerwall through the API (queued)."""

from __future__ import annotations

from unittest import mock

import pytest

from households.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued():
    with mock.patch("tasks.sync.push_tariff.apply_async") as apply_async:
        yield apply_async


def test_profile_is_pushed_to_its_own_site(api, world, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/profiles/{world.profile.pk}/push/", {}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["site"] == world.site.pk
    (args,), kwargs = queued.call_args
    assert args[0] == world.site.pk
    assert args[1] == world.profile.tariff_content
    assert args[2] == "profile"
    assert kwargs == {"queue": "sync"}
    assert Event.objects.filter(site=world.site, decision="Tariff push requested").exists()


def test_plan_needs_a_site_and_goes_where_asked(
    api, world, queued, django_capture_on_commit_callbacks
):
    url = f"/api/v1/schedules/{world.schedule.pk}/push/"
    missing = api.post(url, {}, format="json")
    assert missing.status_code == 400
    assert "site" in missing.json()["error"]["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url, {"site": world.custom_site.pk}, format="json")
    assert response.status_code == 202
    (args,), _ = queued.call_args
    assert args[0] == world.custom_site.pk
    assert args[2] == "custom"
    assert "energy_charges" in args[1]


def test_another_households_site_or_profile_is_refused(api, world, other, queued):
    into_theirs = api.post(
        f"/api/v1/profiles/{world.profile.pk}/push/", {"site": other.site.pk}, format="json"
    )
    assert into_theirs.status_code == 400
    theirs = api.post(f"/api/v1/profiles/{other.profile.pk}/push/", {}, format="json")
    assert theirs.status_code == 404
    queued.assert_not_called()


def test_a_tariff_tesla_would_refuse_is_a_400_and_nothing_is_queued(api, world, queued):
    world.profile.tariff_content = {"version": 1, "seasons": {}}
    world.profile.save()
    response = api.post(f"/api/v1/profiles/{world.profile.pk}/push/", {}, format="json")
    assert response.status_code == 400
    assert "tariff" in response.json()["error"]["fields"]
    queued.assert_not_called()
