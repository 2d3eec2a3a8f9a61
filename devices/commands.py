"""The per-site Tesla write budget: how many commands a site was sent in the last hour and day
(every command is recorded by automations/writes.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from devices.models import DeviceCommand


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
