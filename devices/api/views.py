"""Sites: settings, sensors (Home Assistant parity), energy, and the actions a household can ask
for. Thin: sites come from ``households.selectors.sites_for_user`` (another household's id is a
404), reads from ``devices.selectors``, writes through ``devices.services``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automations import dispatch, force_discharge, holds
from automations.api.serializers import SiteControlSerializer, control_body
from automations.selectors import site_control
from devices.api.serializers import (
    ActionAcceptedSerializer,
    DemandPeakSerializer,
    EnergyQuerySerializer,
    EnergySampleSerializer,
    ForceDischargeSerializer,
    SensorsSerializer,
    SiteSerializer,
    SiteUpdateSerializer,
)
from devices.models import DemandPeak, EnergySample, Site
from devices.selectors import site_energy_latest, site_price_now
from households.api.permissions import IsHouseholdMember
from households.selectors import sites_for_user
from powersync_site.api_support import bounded_time_range_from_query
from tariffs.models import TariffPush

ENERGY_DEFAULT_SPAN = timedelta(hours=24)
ENERGY_MAX_SPAN = timedelta(days=31)


def site_for_request(view: APIView, request: Request, site_id: int | str) -> Site:
    """The caller's site ``site_id``, or 404 (also for another household's site)."""
    site = get_object_or_404(sites_for_user(request.user), pk=site_id)
    view.check_object_permissions(request, site)
    return site


class SiteViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Site],
):
    """The caller's sites. PATCH changes settings, the price source and (write-only) credentials."""

    permission_classes = [IsHouseholdMember]
    http_method_names = ["get", "patch", "post", "head", "options"]
    lookup_value_regex = r"\d+"
    throttle_scope: str | None = None  # actions set "site_actions" (ScopedRateThrottle)

    def get_queryset(self) -> QuerySet[Site]:
        return sites_for_user(self.request.user).order_by("pk")

    def get_serializer_class(self) -> type[SiteSerializer] | type[SiteUpdateSerializer]:
        return SiteUpdateSerializer if self.action == "partial_update" else SiteSerializer

    @extend_schema(request=SiteUpdateSerializer, responses=SiteSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        site = self.get_object()
        serializer = SiteUpdateSerializer(
            site, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(SiteSerializer(site, context=self.get_serializer_context()).data)

    @extend_schema(responses=SensorsSerializer)
    @action(detail=True, methods=["get"], pagination_class=None)
    def sensors(self, request: Request, pk: str | None = None) -> Response:
        """Current price, power flows, battery level and the auto-sync switch (HA sensors)."""
        site = self.get_object()
        price = site_price_now(site=site, now=timezone.now())
        sample = site_energy_latest(site=site)
        body = {
            "price_interval_end_at": price.interval_end_at if price else None,
            "price_is_stale": price.is_stale if price else None,
            "buy_c_per_kwh": price.buy_c_per_kwh if price else None,
            "sell_c_per_kwh": price.export_earn_c_per_kwh if price else None,
            "rrp_dollars_per_mwh": price.rrp_dollars_per_mwh if price else None,
            "spike_status": price.spike_status if price else None,
            "energy_sampled_at": sample.sampled_at if sample else None,
            "solar_power_w": sample.solar_power_w if sample else None,
            "grid_power_w": sample.grid_power_w if sample else None,
            "battery_power_w": sample.battery_power_w if sample else None,
            "home_power_w": sample.load_power_w if sample else None,
            "battery_percent": sample.battery_percent if sample else None,
            "tou_sync_enabled": site.tou_sync_enabled,
        }
        return Response(SensorsSerializer(body).data)

    def _queue_sync(self, action_name: str) -> Response:
        site = self.get_object()
        dispatch.sync(site.pk, reason=TariffPush.Reason.MANUAL)
        body = {"site": site.pk, "action": action_name, "detail": "A sync of this site is queued."}
        return Response(ActionAcceptedSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ActionAcceptedSerializer})
    @action(detail=True, methods=["post"], throttle_scope="site_actions", pagination_class=None)
    def sync(self, request: Request, pk: str | None = None) -> Response:
        """Sync now (Home Assistant ``sync_now``): fetch fresh prices and push the tariff if it
        changed. Queued; runs even when the auto-sync switch is off, but never over a higher
        intent (a hold, a spike, a force discharge: see ``control``). Watch /pushes/ or
        /events/."""
        return self._queue_sync("sync")

    @extend_schema(request=None, responses={202: ActionAcceptedSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="sync-tou",
        throttle_scope="site_actions",
        pagination_class=None,
    )
    def sync_tou(self, request: Request, pk: str | None = None) -> Response:
        """Sync the TOU schedule to Tesla (Home Assistant ``sync_tou_schedule``). The same queued
        manual sync as ``sync``: build the tariff from current prices, push if it changed."""
        return self._queue_sync("sync_tou")

    @extend_schema(request=ForceDischargeSerializer, responses={202: ActionAcceptedSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="force-discharge",
        throttle_scope="site_actions",
        pagination_class=None,
    )
    def force_discharge(self, request: Request, pk: str | None = None) -> Response:
        """Make the battery export for ``minutes`` (15-120), then hand it back on time. Queued;
        the state shows in ``automation_state.force_discharge_until`` and ``control``."""
        site = self.get_object()
        params = ForceDischargeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        minutes = int(params.validated_data["minutes"])
        if not site.tesla_energy_site_id:
            raise ValidationError({"site": ["Connect this site's Powerwall first."]})
        force_discharge.force_discharge_start(site=site, minutes=minutes)
        body = {
            "site": site.pk,
            "action": "force_discharge",
            "detail": f"A force discharge of {minutes} minutes is queued.",
        }
        return Response(ActionAcceptedSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ActionAcceptedSerializer})
    @action(detail=True, methods=["post"], throttle_scope="site_actions", pagination_class=None)
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """End a force discharge now: the Powerwall goes back to what waits behind it."""
        site = self.get_object()
        stopped = force_discharge.force_discharge_stop(site=site)
        detail = "The force discharge is ending." if stopped else "No force discharge was running."
        body = {"site": site.pk, "action": "restore", "detail": detail}
        return Response(ActionAcceptedSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ActionAcceptedSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="resume-sync",
        throttle_scope="site_actions",
        pagination_class=None,
    )
    def resume_sync(self, request: Request, pk: str | None = None) -> Response:
        """End your hold (a plan or profile you put on): live price sync takes the tariff again,
        built from fresh prices."""
        site = self.get_object()
        ended = holds.household_hold_end(site=site, by=request.user.get_username())
        detail = "Your hold ended; live prices take over." if ended else "Nothing was held."
        body = {"site": site.pk, "action": "resume_sync", "detail": detail}
        return Response(ActionAcceptedSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=SiteControlSerializer)
    @action(detail=True, methods=["get"], pagination_class=None)
    def control(self, request: Request, pk: str | None = None) -> Response:
        """Who decides the Powerwall now and why, what waits behind it, any operator pause."""
        site = self.get_object()
        body = control_body(site_control(site=site, now=timezone.now()))
        return Response(SiteControlSerializer(body).data)


class SiteEnergyViewSet(viewsets.GenericViewSet[EnergySample]):
    """Energy of one site: samples over a time range, the latest sample, demand peaks."""

    permission_classes = [IsHouseholdMember]
    serializer_class = EnergySampleSerializer

    def get_queryset(self) -> QuerySet[EnergySample]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request site
            return EnergySample.objects.none()
        site = site_for_request(self, self.request, self.kwargs["site_id"])
        return site.energy_samples.all()

    @extend_schema(parameters=[EnergyQuerySerializer], responses=EnergySampleSerializer(many=True))
    def samples(self, request: Request, site_id: int) -> Response:
        """Samples with ``start`` <= sampled_at < ``end``, oldest first (default: last 24 h;
        at most 31 days)."""
        span = bounded_time_range_from_query(
            request.query_params,
            default_before=ENERGY_DEFAULT_SPAN,
            default_after=timedelta(0),
            max_span=ENERGY_MAX_SPAN,
        )
        samples = (
            self.get_queryset()
            .filter(sampled_at__gte=span.start, sampled_at__lt=span.end)
            .order_by("sampled_at")
        )
        page = self.paginate_queryset(samples)
        return self.get_paginated_response(EnergySampleSerializer(page, many=True).data)

    @extend_schema(responses=EnergySampleSerializer)
    def latest(self, request: Request, site_id: int) -> Response:
        site = site_for_request(self, request, site_id)
        sample = site_energy_latest(site=site)
        if sample is None:
            raise NotFound("This site has no energy sample yet.")
        return Response(EnergySampleSerializer(sample).data)


class SiteDemandPeakViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[DemandPeak]):
    """Peak demand (kW) per billing month and its estimated charge, newest month first."""

    permission_classes = [IsHouseholdMember]
    serializer_class = DemandPeakSerializer

    def get_queryset(self) -> QuerySet[DemandPeak]:
        if getattr(self, "swagger_fake_view", False):
            return DemandPeak.objects.none()
        site = site_for_request(self, self.request, self.kwargs["site_id"])
        return site.demand_peaks.order_by("-billing_month")
