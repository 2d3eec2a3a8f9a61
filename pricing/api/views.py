"""Prices of one of the caller's sites: the price now and the history (actual and forecast)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from devices.api.views import site_for_request
from devices.selectors import site_price_history, site_price_now
from households.api.permissions import IsHouseholdMember
from powersync_site.api_support import bounded_time_range_from_query
from pricing.api.serializers import (
    PriceHistoryQuerySerializer,
    PriceNowSerializer,
    PriceRowSerializer,
    price_rows,
)

HISTORY_DEFAULT_BEFORE = timedelta(hours=24)
HISTORY_DEFAULT_AFTER = timedelta(hours=24)
HISTORY_MAX_SPAN = timedelta(days=7)


class SitePriceViewSet(viewsets.GenericViewSet):
    """Amber intervals for Amber sites, AEMO regional prices for AEMO sites."""

    permission_classes = [IsHouseholdMember]
    serializer_class = PriceRowSerializer

    @extend_schema(
        parameters=[PriceHistoryQuerySerializer], responses=PriceRowSerializer(many=True)
    )
    def history(self, request: Request, site_id: int) -> Response:
        site = site_for_request(self, request, site_id)
        span = bounded_time_range_from_query(
            request.query_params,
            default_before=HISTORY_DEFAULT_BEFORE,
            default_after=HISTORY_DEFAULT_AFTER,
            max_span=HISTORY_MAX_SPAN,
        )
        rows = price_rows(site_price_history(site=site, since=span.start, until=span.end))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(PriceRowSerializer(page, many=True).data)

    @extend_schema(responses=PriceNowSerializer)
    def current(self, request: Request, site_id: int) -> Response:
        site = site_for_request(self, request, site_id)
        price = site_price_now(site=site, now=timezone.now())
        if price is None:
            raise NotFound("No price is stored for this site yet.")
        return Response(PriceNowSerializer(price).data)
