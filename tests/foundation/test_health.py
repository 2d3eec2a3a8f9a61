"""/healthz reports database, broker, worker and beat, and answers 503 when one is down."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from ops.devrun import free_loopback_port
from ops.models import Heartbeat
from tasks import ops as ops_tasks
from tasks.schedule import HEARTBEAT_ENTRY

pytestmark = pytest.mark.django_db


def mark_alive(age: dt.timedelta = dt.timedelta(seconds=1)) -> None:
    seen = timezone.now() - age
    Heartbeat.objects.update_or_create(role="worker", defaults={"last_seen_at": seen})
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
        "credentials": "ok",
    }


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
