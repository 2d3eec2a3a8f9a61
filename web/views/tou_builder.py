"""Custom TOU builder: edit a plan, see the engine's exact error or a 7 x 48 preview, save it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from automations.holds import HOLD_HOURS_CHOICES
from devices.models import Site
from tariffs.engine.custom_tou import ScheduleInvalid, schedule_from_dict
from tariffs.models import CustomTouSchedule
from tariffs.selectors import WeekRow, custom_schedules_for_user, schedule_week
from tariffs.services import (
    ScheduleInUse,
    custom_schedule_create,
    custom_schedule_delete,
    custom_schedule_update,
)
from web import charts
from web.forms.tou import STARTER_DEFINITION, ScheduleForm
from web.views.common import current_household, pushable_sites, request_user

# Without a site to take a zone from, "this week" is the week in eastern Australia.
_PREVIEW_ZONE = ZoneInfo("Australia/Sydney")


def _grid(rows: list[WeekRow]) -> dict[str, Any]:
    """Cells coloured by buy price for the 7 x 48 table, with the scale's ends in c/kWh."""
    values = [float(v) for row in rows for v in row.buy_dollars_per_kwh]
    low, high = min(values), max(values)
    return {
        "rows": [
            {
                "day": row.day_name[:3],
                "date": row.date,
                "cells": [
                    {
                        "color": charts.heat_color(float(buy), low, high),
                        "title": (
                            f"{row.day_name[:3]} {i // 2:02d}:{(i % 2) * 30:02d} · buy "
                            f"{buy * 100:.2f} c/kWh · sell {sell * 100:.2f} c/kWh"
                        ),
                    }
                    for i, (buy, sell) in enumerate(
                        zip(row.buy_dollars_per_kwh, row.sell_dollars_per_kwh, strict=True)
                    )
                ],
            }
            for row in rows
        ],
        "low_c": Decimal(str(low)) * 100,
        "high_c": Decimal(str(high)) * 100,
        "low_color": charts.heat_color(low, low, high),
        "mid_color": charts.heat_color((low + high) / 2, low, high),
        "high_color": charts.heat_color(high, low, high),
        "hours": [f"{h:02d}" for h in range(0, 24, 3)],
    }


@login_required
@require_GET
def schedule_list(request: HttpRequest) -> HttpResponse:
    schedules = custom_schedules_for_user(request.user).order_by("name")
    used = set(
        Site.objects.filter(custom_schedule__in=schedules).values_list(
            "custom_schedule_id", flat=True
        )
    )
    return render(
        request,
        "web/tou/list.html",
        {"nav": "tou", "schedules": schedules, "used": used},
    )


def _editor(request: HttpRequest, schedule: CustomTouSchedule | None) -> HttpResponse:
    initial_definition = schedule.definition if schedule else STARTER_DEFINITION
    form = ScheduleForm(
        request.POST or None,
        initial={"definition": json.dumps(initial_definition, indent=2)},
    )
    preview: dict[str, Any] | None = None
    engine_error = ""
    status = 200
    if request.method == "GET":
        today = timezone.localdate(timezone=_PREVIEW_ZONE)
        try:
            preview = _grid(
                schedule_week(
                    schedule=schedule_from_dict(initial_definition),
                    week_start=today - dt.timedelta(days=today.weekday()),
                )
            )
        except ScheduleInvalid:
            preview = None
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        else:
            definition = form.cleaned_data["definition"]
            day = form.cleaned_data.get("preview_date") or timezone.localdate(
                timezone=_PREVIEW_ZONE
            )
            try:
                parsed = schedule_from_dict(definition)
                week = schedule_week(
                    schedule=parsed, week_start=day - dt.timedelta(days=day.weekday())
                )
            except ScheduleInvalid as exc:
                engine_error = str(exc)
                form.add_error("definition", engine_error)
                status = 400
            else:
                preview = _grid(week)
                if request.POST.get("action") == "save":
                    try:
                        saved = _save(request, schedule, definition)
                    except ScheduleInvalid as exc:  # pragma: no cover - parsed above already
                        form.add_error("definition", str(exc))
                        status = 400
                    except ValidationError as exc:
                        form.add_error("definition", " ".join(exc.messages))
                        status = 400
                    else:
                        messages.success(request, f"Saved “{saved.name}”.")
                        return redirect("web:schedules")
    return render(
        request,
        "web/tou/edit.html",
        {
            "nav": "tou",
            "schedule": schedule,
            "form": form,
            "preview": preview,
            "engine_error": engine_error,
            "push_sites": pushable_sites(request) if schedule else [],
            "hold_hours": HOLD_HOURS_CHOICES,
        },
        status=status,
    )


def _save(
    request: HttpRequest, schedule: CustomTouSchedule | None, definition: Any
) -> CustomTouSchedule:
    if schedule is not None:
        return custom_schedule_update(schedule=schedule, definition=definition)
    household = current_household(request_user(request))
    if household is None:
        raise ValidationError("You are not in a household.")
    return custom_schedule_create(household=household, definition=definition)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_edit(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_object_or_404(custom_schedules_for_user(request.user), pk=schedule_id)
    return _editor(request, schedule)


@login_required
@require_POST
def schedule_delete(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_object_or_404(custom_schedules_for_user(request.user), pk=schedule_id)
    try:
        custom_schedule_delete(schedule=schedule)
    except ScheduleInUse as exc:
        messages.error(request, str(exc))
        return redirect("web:schedules")
    messages.success(request, "Plan deleted.")
    return redirect("web:schedules")
