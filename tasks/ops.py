from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import beat_init, worker_init, worker_ready

from ops import retention, services
from tasks.energy import PRUNE_EXPIRES_SECONDS

logger = logging.getLogger(__name__)


@shared_task(name="tasks.ops.heartbeat", ignore_result=True, acks_late=False)
def heartbeat() -> None:
    """Proves a worker is consuming: /healthz reads the row it writes."""
    services.heartbeat_record(role="worker", hostname=heartbeat.request.hostname or "")


@shared_task(name="tasks.ops.prune_history", ignore_result=True)
def prune_history() -> None:
    """Beat, daily: AEMO prices and expired sessions once, then one task per household
    (ops.retention)."""
    retention.shared_history_prune()
    for household_id in retention.households_to_prune():
        prune_household_history.apply_async((household_id,), expires=PRUNE_EXPIRES_SECONDS)


@shared_task(
    name="tasks.ops.prune_household_history",
    ignore_result=True,
    soft_time_limit=250,
    time_limit=300,
)
def prune_household_history(household_id: int) -> None:
    pruned = retention.household_history_prune(household_id=household_id)
    if pruned.total:
        logger.info("household %s: history pruned %s", household_id, pruned)


@worker_init.connect
def verify_credentials_key(**kwargs: Any) -> None:
    """Refuse to start a worker whose credentials key cannot decrypt stored secrets. Celery
    only logs an exception raised by a signal handler and starts anyway: the worker exits."""
    from credentials.keys import CredentialKeyError
    from credentials.services import encryption_canary_table_ready, encryption_canary_verify

    try:
        if encryption_canary_table_ready():
            encryption_canary_verify()
    except CredentialKeyError as exc:
        logger.critical("worker refused to start: %s", exc)
        raise SystemExit(1) from exc


@worker_ready.connect
def record_worker_start(sender: Any = None, **kwargs: Any) -> None:
    services.heartbeat_record(role="worker", hostname=getattr(sender, "hostname", "") or "")


@beat_init.connect
def record_beat_start(**kwargs: Any) -> None:
    services.heartbeat_record(role="beat", hostname="beat")
