"""Every command sent to a Tesla site goes through ``tesla_command_run``: it is recorded (what,
why, result, latency) before and after the call, whatever happens. And the per-site write budget."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from devices.models import DeviceCommand, Site
from devices.providers.tesla import CommandResult, TeslaError


def tesla_command_run(
    *,
    site: Site,
    kind: str,
    payload: dict[str, Any],
    reason: str,
    call: Callable[[], CommandResult],
) -> tuple[DeviceCommand, CommandResult]:
    """Record, send, record the outcome. Tesla errors are recorded and then re-raised."""
    command = DeviceCommand.objects.create(
        site=site, kind=kind, payload=payload, reason=reason[:200]
    )
    started = time.monotonic()
    try:
        result = call()
    except TeslaError as exc:
        DeviceCommand.objects.filter(pk=command.pk).update(
            status=DeviceCommand.Status.FAILED,
            http_status=exc.http_status,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        raise
    command.status = (
        DeviceCommand.Status.SUCCEEDED if result.result else DeviceCommand.Status.FAILED
    )
    command.http_status = result.http_status
    command.latency_ms = int(result.latency_ms)
    command.response = {"result": result.result, "reason": result.reason}
    command.save(update_fields=["status", "http_status", "latency_ms", "response"])
    return command, result


@dataclass(frozen=True)
class WriteBudgetUse:
    """Commands sent to one Tesla site in the last hour and day, and what the budget allows."""

    last_hour: int
    last_day: int
    per_hour: int
    per_day: int

    @property
    def left(self) -> bool:
        return self.last_day < self.per_day and self.last_hour < self.per_hour


def write_budget_use(site_id: int, *, now: dt.datetime | None = None) -> WriteBudgetUse:
    """How much of TESLA_WRITES_PER_HOUR / TESLA_WRITES_PER_DAY the site has used (one query)."""
    moment = now or timezone.now()
    counts = DeviceCommand.objects.filter(
        site_id=site_id, created_at__gte=moment - dt.timedelta(days=1)
    ).aggregate(
        day=Count("pk"),
        hour=Count("pk", filter=Q(created_at__gte=moment - dt.timedelta(hours=1))),
    )
    return WriteBudgetUse(
        last_hour=counts["hour"],
        last_day=counts["day"],
        per_hour=settings.TESLA_WRITES_PER_HOUR,
        per_day=settings.TESLA_WRITES_PER_DAY,
    )


def write_budget_left(site_id: int, *, now: dt.datetime | None = None) -> bool:
    """Routine writes stay inside TESLA_WRITES_PER_HOUR / TESLA_WRITES_PER_DAY per site.

    Spike, curtailment and force-discharge commands are not held back by it (they are the reason
    the budget keeps headroom), but they count towards it.
    """
    return write_budget_use(site_id, now=now).left
