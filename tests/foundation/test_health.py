"""/healthz reports database, broker, worker, beat, listener, credentials and sync lag, and
answers 503 when one is down."""

from __future__ import annotations

import datetime as dt
import io
import json
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from automations import pauses
from automations.models import AutomationState
from devices.models import Site
from ops.devrun import free_loopback_port
from ops.models import Heartbeat
from tasks import ops as ops_tasks
from tasks.schedule import HEARTBEAT_ENTRY
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def mark_alive(
    age: dt.timedelta = dt.timedelta(seconds=1), listener_age: dt.timedelta | None = None
) -> None:
    seen = timezone.now() - age
    Heartbeat.objects.update_or_create(role="worker", defaults={"last_seen_at": seen})
    listener_seen = timezone.now() - (listener_age or age)
    Heartbeat.objects.update_or_create(role="listener", defaults={"last_seen_at": listener_seen})
    every, _ = IntervalSchedule.objects.get_or_create(every=30, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name=HEARTBEAT_ENTRY,
        defaults={"task": "tasks.ops.heartbeat", "interval": every, "last_run_at": seen},
    )


def test_all_green_is_200(client, fernet_keys):
    mark_alive()
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {name: c["status"] for name, c in body["components"].items()} == {
        "database": "ok",
        "broker": "ok",
        "worker": "ok",
        "beat": "ok",
        "listener": "ok",
        "credentials": "ok",
        "sync": "ok",
        "writes": "ok",
    }
    assert body["components"]["sync"]["detail"] == "no site due for a sync yet"
    assert body["components"]["writes"]["detail"] == "no operator pause: Tesla writes flow"


def test_an_operator_pause_shows_as_paused_not_down(client, fernet_keys):
    mark_alive()
    pauses.writes_pause(scope="region", region="QLD1", reason="Energex outage")
    pause = pauses.writes_pause(scope="fleet", reason="Tesla API incident")
    response = client.get("/healthz")
    assert response.status_code == 200  # deliberate: not a failure a probe should act on
    writes = response.json()["components"]["writes"]
    assert writes["status"] == "paused"
    assert "the QLD1 region since " in writes["detail"]
    assert "(Energex outage)" in writes["detail"]
    assert "every site since " in writes["detail"]
    with mock.patch("automations.pauses.dispatch.reconcile_many"):
        pauses.writes_resume(pause=pause)
    assert "every site" not in client.get("/healthz").json()["components"]["writes"]["detail"]


def test_stale_listener_is_503(client, fernet_keys, settings):
    settings.AMBER_LIVE_RECONCILE_SECONDS = 60  # it reconciles (and beats) every minute
    mark_alive(listener_age=dt.timedelta(minutes=4))
    response = client.get("/healthz")
    assert response.status_code == 503
    listener = response.json()["components"]["listener"]
    assert listener["status"] == "down"
    assert "limit 180s" in listener["detail"]
    assert client.get("/healthz?only=database,worker").status_code == 200


def test_stale_worker_is_503(client, fernet_keys):
    mark_alive(age=dt.timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503
    components = response.json()["components"]
    assert components["worker"]["status"] == "down"
    assert "limit 90s" in components["worker"]["detail"]


def test_never_seen_worker_and_beat_are_down(client, fernet_keys):
    body = client.get("/healthz").json()
    assert body["components"]["worker"]["detail"] == "no worker heartbeat recorded yet"
    assert body["components"]["beat"]["status"] == "down"


def test_unreachable_broker_is_503(client, settings, fernet_keys):
    mark_alive()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_loopback_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["components"]["broker"]["status"] == "down"


def test_only_parameter_limits_the_check(client, fernet_keys):
    response = client.get("/healthz?only=database,broker")
    assert response.status_code == 200
    assert set(response.json()["components"]) == {"database", "broker"}
    bad = client.get("/healthz?only=database,nonsense")
    assert bad.status_code == 400
    assert "nonsense" in bad.json()["error"]


def test_heartbeat_task_records_the_worker(fernet_keys):
    ops_tasks.heartbeat.apply()
    assert Heartbeat.objects.get(role="worker").last_seen_at > timezone.now() - dt.timedelta(
        seconds=5
    )


def test_healthcheck_command_exits_1_when_a_checked_component_is_down(fernet_keys, settings):
    settings.AMBER_LIVE_RECONCILE_SECONDS = 60
    mark_alive(listener_age=dt.timedelta(minutes=4))
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("healthcheck", "--only", "listener", stdout=out)
    assert failure.value.returncode == 1
    assert json.loads(out.getvalue())["components"]["listener"]["status"] == "down"

    call_command("healthcheck", "--only", "worker,database", stdout=out)  # these are fine
    with pytest.raises(CommandError, match="unknown component"):
        call_command("healthcheck", "--only", "nonsense")


def test_loopback_hosts_are_always_allowed_for_health_checks(settings):
    assert {"localhost", "127.0.0.1"} <= set(settings.ALLOWED_HOSTS)


def syncing_sites(count: int, *, last_sync_ago: dt.timedelta | None) -> list[Site]:
    """Sites that sync, created an hour ago, last synced ``last_sync_ago`` (None: never)."""
    sites = SiteFactory.create_batch(count, tou_sync_enabled=True)
    Site.objects.filter(pk__in=[s.pk for s in sites]).update(
        created_at=timezone.now() - dt.timedelta(hours=1)
    )
    synced = timezone.now() - last_sync_ago if last_sync_ago is not None else None
    AutomationState.objects.bulk_create(
        [AutomationState(site=site, last_sync_at=synced) for site in sites]
    )
    return sites


def test_sync_lag_within_tolerance_is_ok_and_counted(client, fernet_keys):
    mark_alive()
    syncing_sites(19, last_sync_ago=dt.timedelta(minutes=4))
    syncing_sites(1, last_sync_ago=dt.timedelta(minutes=20))
    # Not due: sync off, waiting for re-authorisation, or created minutes ago and never synced.
    SiteFactory.create(tou_sync_enabled=False)
    paused = syncing_sites(1, last_sync_ago=dt.timedelta(hours=5))[0]
    Site.objects.filter(pk=paused.pk).update(needs_reauthorisation=True)
    SiteFactory.create(tou_sync_enabled=True)

    response = client.get("/healthz")

    assert response.status_code == 200, response.json()
    assert response.json()["components"]["sync"] == {
        "status": "ok",
        "detail": "19 of 20 sites synced in the last 15 min",
    }


def test_sync_lag_past_tolerance_is_503(client, fernet_keys):
    mark_alive()
    syncing_sites(18, last_sync_ago=dt.timedelta(minutes=4))
    syncing_sites(1, last_sync_ago=dt.timedelta(minutes=16))
    syncing_sites(1, last_sync_ago=None)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["components"]["sync"] == {
        "status": "down",
        "detail": "18 of 20 sites synced in the last 15 min; 2 behind (limit 5%)",
    }
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("healthcheck", "--only", "sync", stdout=out)
    assert json.loads(out.getvalue())["components"]["sync"]["status"] == "down"
