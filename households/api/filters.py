"""Query-string filters of the households resources (validated; a bad value is a 400)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from households.api.serializers import EventQuerySerializer
from households.models import Event
from powersync_site.api_support import time_range_from_query


def filter_events(events: QuerySet[Event], query: Mapping[str, Any]) -> QuerySet[Event]:
    """``automation``, ``outcome``, ``site``, ``start``/``end`` (on ``created_at``)."""
    params = EventQuerySerializer(data=query)
    params.is_valid(raise_exception=True)
    span = time_range_from_query(query)
    values = params.validated_data
    if "automation" in values:
        events = events.filter(automation=values["automation"])
    if "outcome" in values:
        events = events.filter(outcome=values["outcome"])
    if "site" in values:
        events = events.filter(site_id=values["site"])
    if span.start is not None:
        events = events.filter(created_at__gte=span.start)
    if span.end is not None:
        events = events.filter(created_at__lt=span.end)
    return events
