"""Query-string filters of the households resources (validated; a bad value is a 400)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from households.api.serializers import EventQuerySerializer
from households.models import Event
from powersync_site.api_support import filter_by_query


def filter_events(events: QuerySet[Event], query: Mapping[str, Any]) -> QuerySet[Event]:
    """``automation``, ``outcome``, ``site``, ``start``/``end`` (on ``created_at``)."""
    return filter_by_query(
        events,
        query,
        EventQuerySerializer,
        exact={"automation": "automation", "outcome": "outcome", "site": "site_id"},
    )
