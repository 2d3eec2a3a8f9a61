"""The beat schedule, kept in code. django-celery-beat's DatabaseScheduler copies it into the
database at start-up (idempotently: entries are matched by name), where the admin shows them.

Every entry expires a little before its next run, so a backlog never runs stale copies.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from ops.heartbeat import HEARTBEAT_ENTRY

FIVE_MINUTES = 300


def beat_schedule(*, heartbeat_seconds: int) -> dict[str, dict[str, Any]]:
    return {
        HEARTBEAT_ENTRY: {
            "task": "tasks.ops.heartbeat",
            "schedule": float(heartbeat_seconds),
            "options": {"expires": heartbeat_seconds * 0.9},
        },
        # Every 5-minute interval start (UTC and every Australian zone agree on :00/:05/…).
        "sync.all": {
            "task": "tasks.sync.sync_all",
            "schedule": crontab(minute="*/5"),
            "options": {"expires": FIVE_MINUTES * 0.8},
        },
        # One AEMO read a minute for every region, fanned out to the sites it concerns.
        "spike.check-regions": {
            "task": "tasks.spike.check_regions",
            "schedule": 60.0,
            "options": {"expires": 50},
        },
        # Ends intents past their time and repairs sites a lost or failed reconcile left
        # behind (automations.selectors.sites_to_sweep).
        "reconcile.sweep": {
            "task": "tasks.reconcile.sweep",
            "schedule": 60.0,
            "options": {"expires": 50},
        },
        # Solar curtailment every minute (and on every live price message, from the listener).
        "curtail.check-all": {
            "task": "tasks.curtail.check_all",
            "schedule": 60.0,
            "options": {"expires": 50},
        },
        # Energy samples: every 30 s for watched sites, every 5 min otherwise (devices.energy).
        "energy.sample-due": {
            "task": "tasks.energy.sample_due",
            "schedule": 30.0,
            "options": {"expires": 25},
        },
        "energy.rollup": {
            "task": "tasks.energy.rollup_all",
            "schedule": crontab(minute=20),
            "options": {"expires": 50 * 60},
        },
        # Daily, about 03:40 in eastern Australia.
        "energy.prune": {
            "task": "tasks.energy.prune",
            "schedule": crontab(hour=17, minute=40),
            "options": {"expires": 12 * 60 * 60},
        },
        # Daily, about 03:50 in eastern Australia: history past its retention (ops.retention).
        "ops.prune-history": {
            "task": "tasks.ops.prune_history",
            "schedule": crontab(hour=17, minute=50),
            "options": {"expires": 12 * 60 * 60},
        },
        "tokens.refresh-expiring": {
            "task": "tasks.tokens.refresh_expiring",
            "schedule": crontab(minute="2-59/5"),
            "options": {"expires": FIVE_MINUTES * 0.8},
        },
    }
