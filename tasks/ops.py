from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import beat_init, worker_init, worker_ready

from ops import services


@shared_task(name="tasks.ops.heartbeat", ignore_result=True, acks_late=False)
def heartbeat() -> None:
    """Proves a worker is consuming: /healthz reads the row it writes."""
    services.heartbeat_record(role="worker", hostname=heartbeat.request.hostname or "")


@worker_init.connect
def verify_credentials_key(**kwargs: Any) -> None:
    """Refuse to start a worker whose credentials key cannot decrypt stored secrets."""
    from credentials.services import encryption_canary_table_ready, encryption_canary_verify

    if encryption_canary_table_ready():
        encryption_canary_verify()


@worker_ready.connect
def record_worker_start(sender: Any = None, **kwargs: Any) -> None:
    services.heartbeat_record(role="worker", hostname=getattr(sender, "hostname", "") or "")


@beat_init.connect
def record_beat_start(**kwargs: Any) -> None:
    services.heartbeat_record(role="beat", hostname="beat")
