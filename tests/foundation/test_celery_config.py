"""The Celery defaults the rest of the system relies on."""

from __future__ import annotations

from django.conf import settings

from powersync_site.celery import app
from tasks.schedule import beat_schedule


def test_json_only_and_no_result_backend():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_ignore_result is True
    assert not app.conf.result_backend


def test_time_limits_and_fair_dispatch():
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit > 0
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_acks_late is True


def test_named_queues_and_routes():
    assert [q.name for q in app.conf.task_queues] == ["spike", "curtail", "sync", "default"]
    assert app.conf.task_default_queue == "default"
    assert app.amqp.router.route({}, "tasks.spike.check_region")["queue"].name == "spike"
    assert app.amqp.router.route({}, "tasks.sync.sync_site")["queue"].name == "sync"
    assert app.amqp.router.route({}, "tasks.ops.heartbeat")["queue"].name == "default"


def test_every_beat_entry_expires_before_its_next_run():
    schedule = beat_schedule(heartbeat_seconds=30)
    assert schedule
    for name, entry in schedule.items():
        assert 0 < entry["options"]["expires"] < float(entry["schedule"]), name
        assert entry["task"] in app.tasks or entry["task"].startswith("tasks."), name


def test_schedule_in_use_is_the_code_schedule():
    expected = beat_schedule(heartbeat_seconds=settings.HEARTBEAT_INTERVAL_SECONDS)
    assert app.conf.beat_schedule == expected
    assert settings.CELERY_BEAT_SCHEDULER.startswith("django_celery_beat")
