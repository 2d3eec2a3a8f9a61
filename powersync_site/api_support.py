"""Plumbing shared by every API resource: pagination and time-range filters.

Nothing here knows about households or sites; scoping lives in each app's selectors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import pagination, serializers

_M = TypeVar("_M", bound=Model)


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N&page_size=M`` (M up to 500); the body is {count, next, previous, results}."""

    page_size_query_param = "page_size"
    max_page_size = 500


_OFFSET_TAIL = re.compile(r"\d{2}(:?\d{2})?")


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 instant WITH a UTC offset (``2026-11-25T10:00:00+11:00`` or ``...Z``).

    A naive time is refused rather than guessed: the API serves households in several zones.
    """

    default_error_messages = {
        "invalid": "Not an ISO 8601 date-time: use e.g. 2026-11-25T10:00:00+11:00.",
        "naive": "Give a UTC offset (e.g. +10:00 or Z): a time without one is ambiguous.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("invalid")
        text = value.strip()
        # An unencoded "+11:00" in a query string arrives as " 11:00": put the plus back.
        head, space, tail = text.rpartition(" ")
        if space and "T" in head and _OFFSET_TAIL.fullmatch(tail):
            text = f"{head}+{tail}"
        try:
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid")
        if timezone.is_naive(parsed):
            self.fail("naive")
        return parsed


@dataclass(frozen=True)
class TimeRange:
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class BoundedTimeRange:
    start: datetime
    end: datetime


class TimeRangeQuerySerializer(serializers.Serializer):
    """``?start=&end=`` (both optional, ISO 8601 with offset; start inclusive, end exclusive)."""

    start = AwareDateTimeField(required=False, help_text="Inclusive, ISO 8601 with UTC offset.")
    end = AwareDateTimeField(required=False, help_text="Exclusive, ISO 8601 with UTC offset.")


def time_range_from_query(
    query: Mapping[str, Any],
    *,
    max_span: timedelta | None = None,
    default_before: timedelta | None = None,
    default_after: timedelta | None = None,
    now: datetime | None = None,
) -> TimeRange:
    """Validate ``start``/``end`` query parameters.

    A missing bound defaults to ``now - default_before`` / ``now + default_after`` when those are
    given, else stays open. With ``max_span`` both bounds end up set and may be at most that far
    apart. Raises ``ValidationError`` (-> 400 envelope) naming the parameter.
    """
    params = TimeRangeQuerySerializer(data={k: query[k] for k in ("start", "end") if k in query})
    params.is_valid(raise_exception=True)
    now = now or timezone.now()
    start: datetime | None = params.validated_data.get("start")
    end: datetime | None = params.validated_data.get("end")
    if start is None and default_before is not None:
        start = now - default_before
    if end is None and default_after is not None:
        end = now + default_after
    if start is not None and end is not None and start >= end:
        raise serializers.ValidationError({"end": ["end must be after start."]})
    if max_span is not None and start is not None and end is not None and end - start > max_span:
        raise serializers.ValidationError(
            {"end": [f"The range may span at most {_describe(max_span)}."]}
        )
    return TimeRange(start=start, end=end)


def _describe(span: timedelta) -> str:
    if span.days and not span.seconds:
        return f"{span.days} days"
    return f"{int(span.total_seconds() // 3600)} hours"


def bounded_time_range_from_query(
    query: Mapping[str, Any],
    *,
    default_before: timedelta,
    default_after: timedelta,
    max_span: timedelta,
    now: datetime | None = None,
) -> BoundedTimeRange:
    """``time_range_from_query`` for series that always need both bounds (prices, energy)."""
    span = time_range_from_query(
        query,
        max_span=max_span,
        default_before=default_before,
        default_after=default_after,
        now=now,
    )
    if span.start is None or span.end is None:  # unreachable: both defaults are given
        raise serializers.ValidationError({"start": ["start and end are required."]})
    return BoundedTimeRange(start=span.start, end=span.end)


def filter_by_query(
    queryset: QuerySet[_M],
    query: Mapping[str, Any],
    serializer_class: type[serializers.Serializer],
    *,
    exact: Mapping[str, str],
    time_field: str = "created_at",
) -> QuerySet[_M]:
    """A list endpoint's filters: ``query`` is validated with ``serializer_class`` (400 on bad
    input), each present ``exact`` parameter filters its lookup (query name → lookup), and
    ``start``/``end`` bound ``time_field`` (start inclusive, end exclusive)."""
    params = serializer_class(data=query)
    params.is_valid(raise_exception=True)
    span = time_range_from_query(query)
    values = params.validated_data
    for name, lookup in exact.items():
        if name in values:
            queryset = queryset.filter(**{lookup: values[name]})
    if span.start is not None:
        queryset = queryset.filter(**{f"{time_field}__gte": span.start})
    if span.end is not None:
        queryset = queryset.filter(**{f"{time_field}__lt": span.end})
    return queryset
