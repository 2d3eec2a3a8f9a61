from __future__ import annotations

from unittest import mock

import pytest
from rest_framework.throttling import SimpleRateThrottle

from automations import dispatch
from automations.models import IntentKind, SiteIntent
from households.models import Event
from tests.api.conftest import error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("path", "action"), [("sync", "sync"), ("sync-tou", "sync_tou")])
def test_sync_actions_queue_one_manual_sync_after_commit(
    api, world, django_capture_on_commit_callbacks, sent_tasks, path, action
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(f"/api/v1/sites/{world.site.pk}/{path}/")
    assert response.status_code == 202
    assert response.json() == {
        "site": world.site.pk,
        "action": action,
        "detail": "A sync of this site is queued.",
    }
    assert len(callbacks) == 1
    assert sent_tasks.calls == [
        (
            dispatch.SYNC_TASK,
            [world.site.pk, "manual"],
            {"queue": "sync", "expires": dispatch.SYNC_EXPIRES_SECONDS},
        )
    ]


def test_site_actions_have_their_own_throttle(api, world, monkeypatch, sent_tasks):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {"user": "100/min", "anon": "100/min", "site_actions": "1/hour"},
    )
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
def test_force_discharge_sets_its_intent(api, world, minutes, sent_tasks):
    response = api.post(
        f"/api/v1/sites/{world.site.pk}/force-discharge/", {"minutes": minutes}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json() == {
        "site": world.site.pk,
        "action": "force_discharge",
        "detail": f"A force discharge of {minutes} minutes is queued.",
    }
    intent = SiteIntent.objects.get(site=world.site, kind=IntentKind.FORCE_DISCHARGE)
    assert intent.active
    assert intent.data["minutes"] == minutes
    assert intent.until is not None
    assert intent.since is not None
    assert (intent.until - intent.since).total_seconds() == minutes * 60


@pytest.mark.parametrize("payload", [{"minutes": 20}, {"minutes": "abc"}, {}, {"minutes": -15}])
def test_force_discharge_bad_minutes_is_400_and_sets_nothing(api, world, payload, sent_tasks):
    response = api.post(f"/api/v1/sites/{world.site.pk}/force-discharge/", payload, format="json")
    assert response.status_code == 400
    assert list(error(response)["fields"]) == ["minutes"]
    assert not SiteIntent.objects.filter(site=world.site).exists()
    assert sent_tasks.calls == []


def test_restore_ends_a_force_discharge(api, world, sent_tasks):
    api.post(f"/api/v1/sites/{world.site.pk}/force-discharge/", {"minutes": 30}, format="json")
    response = api.post(f"/api/v1/sites/{world.site.pk}/restore/")
    assert response.status_code == 202
    assert response.json() == {
        "site": world.site.pk,
        "action": "restore",
        "detail": "The force discharge is ending.",
    }
    assert not SiteIntent.objects.get(site=world.site, kind=IntentKind.FORCE_DISCHARGE).active
    again = api.post(f"/api/v1/sites/{world.site.pk}/restore/")
    assert again.json()["detail"] == "No force discharge was running."


def test_force_discharge_and_restore_queue_reconciles_after_commit(
    api, world, django_capture_on_commit_callbacks, sent_tasks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        started = api.post(
            f"/api/v1/sites/{world.site.pk}/force-discharge/", {"minutes": 45}, format="json"
        )
        restored = api.post(f"/api/v1/sites/{world.site.pk}/restore/")
    assert (started.status_code, restored.status_code) == (202, 202)
    assert len(callbacks) == 3  # now and at its end; then now again (stopped)
    assert sent_tasks.names() == [dispatch.RECONCILE_TASK] * 3
    urgent = [options["queue"] for _, _, options in sent_tasks.calls]
    assert urgent == [dispatch.URGENT_QUEUE] * 3
    assert "eta" in sent_tasks.calls[1][2]  # the reconcile at its end
    decisions = set(
        Event.objects.filter(site=world.site, intent="force_discharge").values_list(
            "decision", flat=True
        )
    )
    assert decisions == {"Force discharge started", "Force discharge stopped"}


def test_resume_sync_ends_the_households_hold(api, world, sent_tasks):
    push = api.post(f"/api/v1/profiles/{world.profile.pk}/push/", {}, format="json")
    assert push.status_code == 202, push.json()
    control = api.get(f"/api/v1/sites/{world.site.pk}/control/").json()
    assert control["household_hold"] is True
    assert control["headline"].startswith("Your profile “")
    resumed = api.post(f"/api/v1/sites/{world.site.pk}/resume-sync/")
    assert resumed.status_code == 202
    assert resumed.json()["detail"] == "Your hold ended; live prices take over."
    assert api.get(f"/api/v1/sites/{world.site.pk}/control/").json()["household_hold"] is False
    assert api.post(f"/api/v1/sites/{world.site.pk}/resume-sync/").json()["detail"] == (
        "Nothing was held."
    )


def test_control_names_who_decides_each_setting(api, world, sent_tasks):
    api.post(f"/api/v1/sites/{world.site.pk}/force-discharge/", {"minutes": 30}, format="json")
    body = api.get(f"/api/v1/sites/{world.site.pk}/control/").json()
    first = body["in_control"][0]
    assert (first["kind"], first["title"]) == ("force_discharge", "Force discharge")
    assert first["settings"] == ["tariff", "operation_mode", "export_rule"]
    assert body["headline"].startswith("Force discharge until ")
    assert body["paused_by_operator"] is None
    with mock.patch("automations.selectors.covering_pause") as pause:
        pause.return_value.reason = "Tesla incident"
        paused = api.get(f"/api/v1/sites/{world.site.pk}/control/").json()
    assert paused["headline"] == "Paused by the operator: Tesla incident"
