"""The household's event log: filters, pagination and a CSV export of the filtered set."""

from __future__ import annotations

import csv
import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from automations.models import IntentKind
from households.models import Event
from households.selectors import events_for_user, sites_for_user
from web.forms.events import EventFilterForm

PAGE_SIZE = 50
_UTC = ZoneInfo("UTC")
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _filtered(request: HttpRequest) -> tuple[EventFilterForm, QuerySet[Event] | None, ZoneInfo]:
    """The filter form and the events it selects (None when the filters are invalid).

    Dates are whole days in the time zone of the chosen site, else of the household's first
    site, else UTC.
    """
    sites = sites_for_user(request.user).order_by("name", "pk")
    form = EventFilterForm(request.GET or None, sites=sites)
    events = events_for_user(request.user).select_related("site")
    first_site = sites.first()
    zone = first_site.zone if first_site else _UTC
    if not request.GET:
        return form, events, zone
    if not form.is_valid():
        return form, None, zone
    data = form.cleaned_data
    if data.get("site"):
        zone = data["site"].zone
        events = events.filter(site=data["site"])
    if data.get("automation"):
        events = events.filter(automation=data["automation"])
    if data.get("outcome"):
        events = events.filter(outcome=data["outcome"])
    if data.get("date_from"):
        start = dt.datetime.combine(data["date_from"], dt.time.min, tzinfo=zone)
        events = events.filter(created_at__gte=start)
    if data.get("date_to"):
        end = dt.datetime.combine(data["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        events = events.filter(created_at__lt=end)
    return form, events, zone


def _local(event: Event, zone: ZoneInfo) -> dt.datetime:
    return timezone.localtime(event.created_at, event.site.zone if event.site else zone)


def _intent_label(intent: str) -> str:
    """The intent an event was decided for, in words ("" for events of no intent)."""
    return IntentKind(intent).label if intent in IntentKind.values else ""


@login_required
@require_GET
def event_log(request: HttpRequest) -> HttpResponse:
    form, events, zone = _filtered(request)
    if events is None:
        return render(
            request,
            "web/events.html",
            {"nav": "events", "form": form, "page_obj": None},
            status=400,
        )
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(event, _local(event, zone), _intent_label(event.intent)) for event in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/events.html",
        {
            "nav": "events",
            "form": form,
            "page_obj": page,
            "rows": rows,
            "query": query.urlencode(),
            "retention_days": settings.EVENT_RETENTION_DAYS,
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    """Text for a CSV cell; a leading formula character is neutralised for spreadsheets."""
    text = str(value)
    return f"'{text}" if text.startswith(_CSV_FORMULA_START) else text


@login_required
@require_GET
def event_log_csv(request: HttpRequest) -> HttpResponseBase:
    form, events, zone = _filtered(request)
    if events is None:
        return HttpResponse(
            "Invalid filters: "
            + "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    writer = csv.writer(_Echo())
    header = [
        "time_utc",
        "time_local",
        "site",
        "automation",
        "intent",
        "decision",
        "reason",
        "outcome",
    ]

    def rows() -> object:
        yield writer.writerow(header)
        for event in events.iterator(chunk_size=500):
            yield writer.writerow(
                [
                    event.created_at.astimezone(_UTC).isoformat(),
                    _local(event, zone).isoformat(),
                    _cell(event.site.name if event.site else ""),
                    event.automation,
                    event.intent,
                    _cell(event.decision),
                    _cell(event.reason),
                    event.outcome,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")  # type: ignore[arg-type]
    response["Content-Disposition"] = 'attachment; filename="powersync-events.csv"'
    return response
