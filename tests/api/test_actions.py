from __future__ import annotations

from unittest import mock

import pytest
from rest_framework.throttling import SimpleRateThrottle

from tests.api.conftest import error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("path", "action"), [("sync", "sync"), ("sync-tou", "sync_tou")])
def test_sync_actions_queue_one_manual_sync_after_commit(
    api, world, django_capture_on_commit_callbacks, path, action
):
    with (
        mock.patch("tasks.sync.sync_site.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        response = api.post(f"/api/v1/sites/{world.site.pk}/{path}/")
    assert response.status_code == 202
    assert response.json() == {
        "site": world.site.pk,
        "action": action,
        "detail": "A sync of this site is queued.",
    }
    assert len(callbacks) == 1
    apply_async.assert_called_once_with((world.site.pk, "manual"), queue="sync")


def test_site_actions_have_their_own_throttle(api, world, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {"user": "100/min", "anon": "100/min", "site_actions": "1/hour"},
    )
    with mock.patch("tariffs.sync.site_sync_request"):
        assert api.post(f"/api/v1/sites/{world.site.pk}/sync/").status_code == 202
        second = api.post(f"/api/v1/sites/{world.site.pk}/sync-tou/")
    assert second.status_code == 429
    assert error(second)["code"] == "throttled"
    assert api.get(f"/api/v1/sites/{world.site.pk}/").status_code == 200  # reads unaffected


def test_sync_needs_post(api, world):
    response = api.get(f"/api/v1/sites/{world.site.pk}/sync/")
    assert response.status_code == 405
    assert error(response)["code"] == "method_not_allowed"


@pytest.mark.parametrize("minutes", [15, 30, 45, 60, 90, 120])
def test_force_discharge_queues_the_request(api, world, minutes):
    with mock.patch("devices.force_discharge.force_discharge_start") as start:
        response = api.post(
            f"/api/v1/sites/{world.site.pk}/force-discharge/", {"minutes": minutes}, format="json"
        )
    assert response.status_code == 202, response.json()
    assert response.json() == {
        "site": world.site.pk,
        "action": "force_discharge",
        "detail": f"A force discharge of {minutes} minutes is queued.",
    }
    start.assert_called_once_with(site_id=world.site.pk, minutes=minutes)


@pytest.mark.parametrize("payload", [{"minutes": 20}, {"minutes": "abc"}, {}, {"minutes": -15}])
def test_force_discharge_bad_minutes_is_400_and_queues_nothing(api, world, payload):
    with mock.patch("devices.force_discharge.force_discharge_start") as start:
        response = api.post(
            f"/api/v1/sites/{world.site.pk}/force-discharge/", payload, format="json"
        )
    assert response.status_code == 400
    assert list(error(response)["fields"]) == ["minutes"]
    start.assert_not_called()


def test_restore_queues_the_end_of_a_force_discharge(api, world):
    with mock.patch("devices.force_discharge.force_discharge_stop") as stop:
        response = api.post(f"/api/v1/sites/{world.site.pk}/restore/")
    assert response.status_code == 202
    assert response.json() == {
        "site": world.site.pk,
        "action": "restore",
        "detail": "The restore is queued.",
    }
    stop.assert_called_once_with(site_id=world.site.pk)


def test_force_discharge_and_restore_queue_their_tasks_after_commit(
    api, world, django_capture_on_commit_callbacks
):
    with (
        mock.patch("tasks.spike.force_discharge_begin.delay") as begin,
        mock.patch("tasks.spike.force_discharge_end.delay") as end,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        started = api.post(
            f"/api/v1/sites/{world.site.pk}/force-discharge/", {"minutes": 45}, format="json"
        )
        restored = api.post(f"/api/v1/sites/{world.site.pk}/restore/")
    assert (started.status_code, restored.status_code) == (202, 202)
    assert len(callbacks) == 2
    begin.assert_called_once_with(world.site.pk, 45)
    end.assert_called_once_with(world.site.pk, None)
