"""The one place domain code queues Celery work: by task name, after the caller's transaction
commits (at once outside one), so no domain module imports ``tasks/`` and no task runs before
the rows it reads exist. Task modules register under these names (tested).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from celery import Task, current_app
from django.db import transaction

RECONCILE_TASK = "tasks.reconcile.site"
SYNC_TASK = "tasks.sync.sync_site"
CURTAIL_TASK = "tasks.curtail.check_site"

# Urgent reconciles (a force discharge, a spike, the end of a toggle) jump the routine syncs;
# bulk ones (a pause lifted from thousands of sites) queue behind nothing urgent.
URGENT_QUEUE = "spike"
BULK_QUEUE = "sync"
# A queued sync older than this is dropped instead of run late (the next one is due by then).
SYNC_EXPIRES_SECONDS = 240


def _task(name: str) -> Task:
    """The registered task ``name``; the task modules (the Celery app's ``imports``) are loaded
    the first time a process asks, so a web process queues by name without importing them."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    task: Task = current_app.tasks[name]
    return task


def _send(name: str, args: list[Any], **options: Any) -> None:
    # apply_async, not send_task: it honours task_always_eager (tests, a browser walk-through).
    transaction.on_commit(lambda: _task(name).apply_async(args=tuple(args), **options))


def reconcile(
    site_id: int,
    *,
    queue: str = URGENT_QUEUE,
    countdown: float | None = None,
    eta: dt.datetime | None = None,
) -> None:
    """Reconcile one site (its intents changed, or one ends at ``eta``)."""
    options: dict[str, Any] = {"queue": queue}
    if countdown is not None:
        options["countdown"] = countdown
    if eta is not None:
        options["eta"] = eta
    _send(RECONCILE_TASK, [site_id], **options)


def reconcile_many(site_ids: Iterable[int]) -> None:
    """Reconcile many sites, on the bulk queue."""
    for site_id in site_ids:
        _send(RECONCILE_TASK, [site_id], queue=BULK_QUEUE)


def sync(site_id: int, *, reason: str) -> None:
    """A live-price sync of one site: fetch prices now and push if the change matters."""
    _send(SYNC_TASK, [site_id, reason], queue="sync", expires=SYNC_EXPIRES_SECONDS)


def curtailment_check(
    site_id: int, *, feed_in_c_per_kwh: float, interval_end: dt.datetime, expires: float
) -> None:
    """A curtailment check with the price the live listener saw (Amber's sign)."""
    _send(
        CURTAIL_TASK,
        [site_id, feed_in_c_per_kwh, interval_end.isoformat()],
        queue="curtail",
        expires=expires,
    )
