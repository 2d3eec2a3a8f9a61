"""The Celery defaults the rest of the system relies on."""

from __future__ import annotations

from celery.schedules import crontab
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


def period_seconds(every: object) -> float:
    """Seconds between two runs: a number, or the smallest gap between a crontab's daily times."""
    if isinstance(every, int | float):
        return float(every)
    assert isinstance(every, crontab)
    times = sorted(h * 60 + m for h in every.hour for m in every.minute)  # type: ignore[attr-defined]
    gaps = [b - a for a, b in zip(times, [*times[1:], times[0] + 24 * 60], strict=True)]
    return min(gaps) * 60.0


def test_every_beat_entry_expires_before_its_next_run():
    schedule = beat_schedule(heartbeat_seconds=30)
    app.loader.import_default_modules()  # what a worker does: registers every task module
    assert {"ops.heartbeat", "sync.all", "tokens.refresh-expiring"} <= set(schedule)
    for name, entry in schedule.items():
        assert 0 < entry["options"]["expires"] < period_seconds(entry["schedule"]), name
        assert entry["task"] in app.tasks, name


def test_sync_runs_at_every_five_minute_interval_start():
    every = beat_schedule(heartbeat_seconds=30)["sync.all"]["schedule"]
    assert sorted(every.minute) == list(range(0, 60, 5))


def test_schedule_in_use_is_the_code_schedule():
    expected = beat_schedule(heartbeat_seconds=settings.HEARTBEAT_INTERVAL_SECONDS)
    assert app.conf.beat_schedule == expected
    assert settings.CELERY_BEAT_SCHEDULER.startswith("django_celery_beat")
