"""Reads of the tariffs app, scoped to the caller's households.

Like ``households.selectors``, every page and endpoint reaches schedules, profiles and pushes
through these, so another household's ids match nothing (404).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from devices.models import Site
from tariffs.engine.custom_tou import DAY_NAMES, ScheduleInvalid, TouSchedule, half_hour_rates_for
from tariffs.engine.model import PERIODS_PER_DAY, period_name
from tariffs.engine.tesla_format import TariffInvalid, parse_tariff_content_v2
from tariffs.models import CustomTouSchedule, TariffPush, TouProfile


def custom_schedules_for_user(user: User | AnonymousUser) -> QuerySet[CustomTouSchedule]:
    if not user.is_authenticated:
        return CustomTouSchedule.objects.none()
    return CustomTouSchedule.objects.filter(household__memberships__user=user).distinct()


def tou_profiles_for_user(user: User | AnonymousUser) -> QuerySet[TouProfile]:
    if not user.is_authenticated:
        return TouProfile.objects.none()
    return (
        TouProfile.objects.filter(household__memberships__user=user)
        .select_related("site")
        .distinct()
    )


def tariff_pushes_for_user(user: User | AnonymousUser) -> QuerySet[TariffPush]:
    if not user.is_authenticated:
        return TariffPush.objects.none()
    return TariffPush.objects.filter(site__household__memberships__user=user).distinct()


def tariff_push_in_force(*, site: Site) -> TariffPush | None:
    """The tariff Tesla holds now as far as we know: the latest push confirmed by read-back."""
    return (
        TariffPush.objects.filter(site=site, status=TariffPush.Status.CONFIRMED)
        .order_by("-verified_at", "-created_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class HalfHour:
    """One local half-hour of a day's tariff, rates in $/kWh (sell = export credit)."""

    index: int
    name: str  # PERIOD_HH_MM
    label: str  # HH:MM
    buy_dollars_per_kwh: Decimal
    sell_dollars_per_kwh: Decimal


def tariff_half_hours(*, tariff_content: Any, local_date: dt.date) -> list[HalfHour] | None:
    """The 48 half-hours of ``local_date`` under a Tesla tariff, or None if it cannot be read."""
    try:
        schedule = parse_tariff_content_v2(tariff_content)
        rates = half_hour_rates_for(schedule, local_date)
    except (TariffInvalid, ScheduleInvalid):
        return None
    return [
        HalfHour(
            index=index,
            name=period_name(index),
            label=f"{index // 2:02d}:{(index % 2) * 30:02d}",
            buy_dollars_per_kwh=rates.buy_dollars_per_kwh[index],
            sell_dollars_per_kwh=rates.sell_dollars_per_kwh[index],
        )
        for index in range(PERIODS_PER_DAY)
    ]


@dataclass(frozen=True)
class WeekRow:
    """One day of the 7 x 48 preview: its name and 48 buy/sell rates in $/kWh."""

    day_name: str
    date: dt.date
    buy_dollars_per_kwh: tuple[Decimal, ...]
    sell_dollars_per_kwh: tuple[Decimal, ...]


def schedule_week(*, schedule: TouSchedule, week_start: dt.date) -> list[WeekRow]:
    """Seven days (from ``week_start``, a Monday) x 48 half-hours of a validated schedule.

    Raises ``ScheduleInvalid`` (the engine's message) if a day cannot be expanded.
    """
    rows = []
    for offset in range(7):
        day = week_start + dt.timedelta(days=offset)
        rates = half_hour_rates_for(schedule, day)
        rows.append(
            WeekRow(
                day_name=DAY_NAMES[day.weekday()],
                date=day,
                buy_dollars_per_kwh=rates.buy_dollars_per_kwh,
                sell_dollars_per_kwh=rates.sell_dollars_per_kwh,
            )
        )
    return rows
