"""The beat schedule, kept in code. django-celery-beat's DatabaseScheduler copies it into the
database at start-up (idempotently: entries are matched by name), where the admin shows them.

Every entry expires a little before its next run, so a backlog never runs stale copies.
"""

from __future__ import annotations

from typing import Any

HEARTBEAT_ENTRY = "ops.heartbeat"


def beat_schedule(*, heartbeat_seconds: int) -> dict[str, dict[str, Any]]:
    return {
        HEARTBEAT_ENTRY: {
            "task": "tasks.ops.heartbeat",
            "schedule": float(heartbeat_seconds),
            "options": {"expires": heartbeat_seconds * 0.9},
        },
    }
