"""The Celery application and its defaults, set once here.

- JSON only: tasks take primary keys and plain values, never pickled objects.
- No result backend: tasks record their outcome in the database (events, pushes, commands).
- acks_late + reject_on_worker_lost: a task whose worker dies is delivered again; every task is
  idempotent (compare-and-set in the database), so a second delivery is harmless.
- prefetch 1: fair dispatch; a long Tesla call never holds queued work hostage.
- Named queues, most urgent first: spike and curtail ahead of routine sync, then default.
  A worker started with `-Q spike,curtail,sync,default` drains them in that order.
- Time limits: the soft limit raises inside the task so it can record the failure; the hard limit
  kills it a little later.
"""

from __future__ import annotations

import os

from celery import Celery
from django.conf import settings
from kombu import Queue

from tasks.schedule import beat_schedule

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powersync_site.settings")

app = Celery("powersync")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("spike", "curtail", "sync", "default")
TASK_MODULES = (
    "tasks.curtail",
    "tasks.energy",
    "tasks.ops",
    "tasks.reconcile",
    "tasks.spike",
    "tasks.sync",
    "tasks.tokens",
)

app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    result_backend=None,
    result_expires=None,  # no backend, so no backend_cleanup beat entry
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=50,
    task_time_limit=60,
    imports=TASK_MODULES,
    task_queues=[Queue(name) for name in QUEUES],
    task_default_queue="default",
    task_routes={
        "tasks.spike.*": {"queue": "spike"},
        "tasks.reconcile.*": {"queue": "spike"},
        "tasks.curtail.*": {"queue": "curtail"},
        "tasks.sync.*": {"queue": "sync"},
    },
    # Redis redelivers an unacknowledged task after this long; it must exceed the longest task.
    broker_transport_options={"visibility_timeout": 15 * 60},
    broker_connection_retry_on_startup=True,
    # Beat saves each entry's last_run_at after every send, which /healthz reads as beat liveness.
    beat_sync_every=1,
    beat_schedule=beat_schedule(heartbeat_seconds=settings.HEARTBEAT_INTERVAL_SECONDS),
    timezone="UTC",
    enable_utc=True,
    worker_hijack_root_logger=False,
)
