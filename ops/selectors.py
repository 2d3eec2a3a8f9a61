"""Health of the service: database, broker, worker, beat, listener, the credentials key, and
whether TOU syncs keep up.

worker: the heartbeat task (run by a worker) wrote its row recently.
listener: the Amber live listener wrote its row at its last reconcile (every
AMBER_LIVE_RECONCILE_SECONDS).
beat: django-celery-beat recorded sending the heartbeat entry recently (last_run_at, saved after
every send because beat_sync_every=1).
writes: Tesla writes flow, or which operator pauses hold them ("paused", never "down").
sync: the TOU syncs keep up. Of the sites that sync (on, not waiting for re-authorisation, older
than SYNC_LAG_LIMIT), at most SYNC_LAG_TOLERATED_FRACTION went longer than SYNC_LAG_LIMIT
(3 cycles) without a sync recording its outcome. A backlog, a stalled sync worker, or syncs
failing before they record anything (an upstream outage past the retries) all show here, which
the worker heartbeat on the default queue cannot see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from kombu import Connection
from kombu.exceptions import OperationalError as KombuOperationalError

from automations.pauses import active_pauses
from credentials import keys
from credentials import services as credential_services
from devices.models import Site
from ops.heartbeat import HEARTBEAT_ENTRY
from ops.models import Heartbeat

STALE_AFTER_INTERVALS = 3
SYNC_LAG_LIMIT = dt.timedelta(minutes=15)
SYNC_LAG_TOLERATED_FRACTION = 0.05


@dataclass
class ComponentHealth:
    ok: bool
    detail: str
    age_seconds: float | None = None
    paused: bool = False  # working, and deliberately held by the operator (not "down")

    def as_dict(self) -> dict[str, object]:
        status = "down" if not self.ok else "paused" if self.paused else "ok"
        data: dict[str, object] = {"status": status, "detail": self.detail}
        if self.age_seconds is not None:
            data["age_seconds"] = round(self.age_seconds, 1)
        return data


@dataclass
class SystemHealth:
    components: dict[str, ComponentHealth] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.components.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "degraded",
            "checked_at": timezone.now().isoformat(),
            "components": {name: c.as_dict() for name, c in self.components.items()},
        }


def _freshness(
    seen_at: dt.datetime | None, what: str, *, every_seconds: float | None = None
) -> ComponentHealth:
    max_age = (every_seconds or settings.HEARTBEAT_INTERVAL_SECONDS) * STALE_AFTER_INTERVALS
    if seen_at is None:
        return ComponentHealth(False, f"no {what} recorded yet")
    age = (timezone.now() - seen_at).total_seconds()
    if age > max_age:
        return ComponentHealth(False, f"last {what} {age:.0f}s ago (limit {max_age}s)", age)
    return ComponentHealth(True, f"last {what} {age:.0f}s ago", age)


def database_health() -> ComponentHealth:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return ComponentHealth(False, f"database unreachable: {type(exc).__name__}")
    return ComponentHealth(True, connection.vendor)


def broker_health() -> ComponentHealth:
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except (KombuOperationalError, OSError, TimeoutError) as exc:
        return ComponentHealth(False, f"broker unreachable: {type(exc).__name__}")
    return ComponentHealth(True, "reachable")


def worker_health() -> ComponentHealth:
    beat = Heartbeat.objects.filter(role="worker").values_list("last_seen_at", flat=True).first()
    return _freshness(beat, "worker heartbeat")


def beat_health() -> ComponentHealth:
    """Beat writes a row when it starts and then saves last_run_at of each entry it sends."""
    last_send = (
        PeriodicTask.objects.filter(name=HEARTBEAT_ENTRY)
        .values_list("last_run_at", flat=True)
        .first()
    )
    started = Heartbeat.objects.filter(role="beat").values_list("last_seen_at", flat=True).first()
    seen = [moment for moment in (last_send, started) if moment is not None]
    return _freshness(max(seen) if seen else None, "beat activity")


def listener_health() -> ComponentHealth:
    seen = Heartbeat.objects.filter(role="listener").values_list("last_seen_at", flat=True).first()
    every = max(settings.HEARTBEAT_INTERVAL_SECONDS, settings.AMBER_LIVE_RECONCILE_SECONDS)
    return _freshness(seen, "listener heartbeat", every_seconds=every)


def credentials_health() -> ComponentHealth:
    try:
        credential_services.encryption_canary_verify()
    except keys.CredentialKeyError as exc:
        return ComponentHealth(False, str(exc))
    return ComponentHealth(True, "canary decrypts")


def sync_health(*, now: dt.datetime | None = None) -> ComponentHealth:
    moment = now or timezone.now()
    since = moment - SYNC_LAG_LIMIT
    counts = Site.objects.filter(
        tou_sync_enabled=True, needs_reauthorisation=False, created_at__lte=since
    ).aggregate(
        due=Count("pk"),
        lagging=Count(
            "pk",
            filter=Q(automation_state__last_sync_at__isnull=True)
            | Q(automation_state__last_sync_at__lt=since),
        ),
    )
    due, lagging = counts["due"], counts["lagging"]
    minutes = int(SYNC_LAG_LIMIT.total_seconds() // 60)
    if not due:
        return ComponentHealth(True, "no site due for a sync yet")
    detail = f"{due - lagging:,} of {due:,} sites synced in the last {minutes} min"
    if lagging > due * SYNC_LAG_TOLERATED_FRACTION:
        limit = f"{SYNC_LAG_TOLERATED_FRACTION:.0%}"
        return ComponentHealth(False, f"{detail}; {lagging:,} behind (limit {limit})")
    return ComponentHealth(True, detail)


def writes_health() -> ComponentHealth:
    """Tesla writes flow, or an operator paused them (fleet, region or site; the service is
    working as told, so this never makes /healthz answer 503)."""
    active = list(active_pauses())
    if not active:
        return ComponentHealth(True, "no operator pause: Tesla writes flow")
    held = "; ".join(
        f"{pause.covers} since {pause.created_at:%Y-%m-%d %H:%M} UTC ({pause.reason})"
        for pause in active
    )
    return ComponentHealth(True, f"paused by the operator: {held}", paused=True)


COMPONENTS = (
    "database",
    "broker",
    "worker",
    "beat",
    "listener",
    "credentials",
    "sync",
    "writes",
)


def system_health(only: frozenset[str] | None = None) -> SystemHealth:
    """Health of every component, or of ``only`` those named (e.g. web's own readiness)."""
    health = SystemHealth()
    health.components["database"] = database_health()
    health.components["broker"] = broker_health()
    if health.components["database"].ok:
        health.components["worker"] = worker_health()
        health.components["beat"] = beat_health()
        health.components["listener"] = listener_health()
        health.components["credentials"] = credentials_health()
        health.components["sync"] = sync_health()
        health.components["writes"] = writes_health()
    else:
        for name in ("worker", "beat", "listener", "credentials", "sync", "writes"):
            health.components[name] = ComponentHealth(False, "unknown: database unreachable")
    if only is not None:
        health.components = {k: v for k, v in health.components.items() if k in only}
    return health
