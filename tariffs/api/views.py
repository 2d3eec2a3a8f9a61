"""Tariffs (current and preview), pushes, saved profiles and custom TOU schedules.

Thin: objects come from the scoped selectors (``tariffs.selectors``, ``households.selectors``),
writes go through ``tariffs.services``, and engine errors become 400s naming the field.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from automations import holds
from devices.api.serializers import ActionAcceptedSerializer
from devices.api.views import site_for_request
from devices.models import Site
from devices.services import ConnectionCheckFailed
from households.api.permissions import IsHouseholdMember
from powersync_site.api_errors import (
    Conflict,
    NotImplementedYet,
    UpstreamFailed,
    validation_error_from_django,
)
from powersync_site.api_support import filter_by_query
from tariffs import services
from tariffs.api.serializers import (
    CurrentTariffSerializer,
    CustomScheduleSerializer,
    CustomScheduleUpdateSerializer,
    CustomScheduleWriteSerializer,
    ProfileQuerySerializer,
    PushQuerySerializer,
    TariffPreviewSerializer,
    TariffPushListSerializer,
    TariffPushRequestSerializer,
    TariffPushSerializer,
    TouProfileCreateSerializer,
    TouProfileListSerializer,
    TouProfileRenameSerializer,
    TouProfileSaveCurrentSerializer,
    TouProfileSerializer,
    schedule_error_fields,
)
from tariffs.engine.custom_tou import ScheduleInvalid, schedule_from_dict
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.tesla_format import TariffInvalid, render_custom_tariff
from tariffs.models import CustomTouSchedule, TariffPush, TouProfile
from tariffs.selectors import (
    custom_schedules_for_user,
    tariff_half_hours,
    tariff_push_in_force,
    tariff_pushes_for_user,
    tou_profiles_for_user,
)


@extend_schema(parameters=[PushQuerySerializer])
class TariffPushViewSet(viewsets.ReadOnlyModelViewSet[TariffPush]):
    """Tariffs sent (or refused/skipped) for the caller's sites, newest first.

    Filters: ``site``, ``status``, ``reason``, ``start``/``end`` (creation time, ISO 8601 with UTC
    offset; start inclusive, end exclusive).
    """

    permission_classes = [IsHouseholdMember]
    lookup_value_regex = r"\d+"

    def get_serializer_class(self) -> type[TariffPushSerializer]:
        return TariffPushListSerializer if self.action == "list" else TariffPushSerializer

    def get_queryset(self) -> QuerySet[TariffPush]:
        pushes = tariff_pushes_for_user(self.request.user).order_by("-created_at", "-id")
        if self.action != "list":
            return pushes
        return filter_by_query(
            pushes,
            self.request.query_params,
            PushQuerySerializer,
            exact={"site": "site_id", "status": "status", "reason": "reason"},
        )


def _custom_preview(site: Site) -> dict[str, Any]:
    """A custom-schedule site's tariff, rendered by the engine from the stored schedule."""
    assert site.custom_schedule is not None
    content = render_custom_tariff(schedule_from_dict(site.custom_schedule.definition))
    local_date = timezone.now().astimezone(site.zone).date()
    return {
        "price_source": Site.PriceSource.CUSTOM,
        "built_at": timezone.now(),
        "local_date": local_date,
        "fingerprint": tariff_fingerprint(content),
        "tariff_content": content,
        "half_hours": tariff_half_hours(tariff_content=content, local_date=local_date),
    }


class SiteTariffViewSet(viewsets.GenericViewSet):
    """The tariff of one site: what Tesla holds (current) and what the engine would build now."""

    permission_classes = [IsHouseholdMember]
    serializer_class = CurrentTariffSerializer

    @extend_schema(responses=CurrentTariffSerializer)
    def current(self, request: Request, site_id: int) -> Response:
        """The latest push confirmed by a read-back, with today's 48 local half-hours."""
        site = site_for_request(self, request, site_id)
        push = tariff_push_in_force(site=site)
        if push is None:
            raise NotFound("No tariff has been confirmed on this site yet.")
        local_date = timezone.now().astimezone(site.zone).date()
        body = {
            "push": push,
            "local_date": local_date,
            "half_hours": tariff_half_hours(
                tariff_content=push.tariff_content, local_date=local_date
            ),
        }
        return Response(CurrentTariffSerializer(body).data)

    @extend_schema(responses=TariffPreviewSerializer)
    def preview(self, request: Request, site_id: int) -> Response:
        """The tariff the engine would build now. Nothing is pushed."""
        site = site_for_request(self, request, site_id)
        if site.price_source != Site.PriceSource.CUSTOM or site.custom_schedule is None:
            raise NotImplementedYet(
                "A preview is available for custom-schedule sites only, for now."
            )
        try:
            body = _custom_preview(site)
        except ScheduleInvalid as exc:
            raise serializers.ValidationError({"custom_schedule": [str(exc)]}) from None
        return Response(TariffPreviewSerializer(body).data)


class CustomScheduleViewSet(viewsets.ModelViewSet[CustomTouSchedule]):
    """Custom time-of-use schedules of the caller's households."""

    permission_classes = [IsHouseholdMember]
    throttle_scope: str | None = None  # the push action sets "site_actions"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[CustomTouSchedule]:
        return custom_schedules_for_user(self.request.user).prefetch_related("sites").order_by("pk")

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action == "create":
            return CustomScheduleWriteSerializer
        if self.action in ("update", "partial_update"):
            return CustomScheduleUpdateSerializer
        return CustomScheduleSerializer

    @extend_schema(request=CustomScheduleWriteSerializer, responses={201: CustomScheduleSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = CustomScheduleWriteSerializer(data=request.data, context={"request": request})
        params.is_valid(raise_exception=True)
        values = params.validated_data
        try:
            schedule = services.custom_schedule_create(
                household=values["household"],
                definition=values["definition"],
                retailer=values.get("retailer", ""),
            )
        except ScheduleInvalid as exc:
            raise serializers.ValidationError(schedule_error_fields(str(exc))) from None
        except DjangoValidationError as exc:
            raise validation_error_from_django(exc) from None
        return Response(CustomScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CustomScheduleUpdateSerializer, responses=CustomScheduleSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        params = CustomScheduleUpdateSerializer(
            schedule, data=request.data, context={"request": request}
        )
        params.is_valid(raise_exception=True)
        try:
            schedule = services.custom_schedule_update(
                schedule=schedule, definition=params.validated_data["definition"]
            )
        except ScheduleInvalid as exc:
            raise serializers.ValidationError(schedule_error_fields(str(exc))) from None
        except DjangoValidationError as exc:
            raise validation_error_from_django(exc) from None
        return Response(CustomScheduleSerializer(schedule).data)

    @extend_schema(request=CustomScheduleUpdateSerializer, responses=CustomScheduleSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The definition is one document: PATCH replaces it like PUT."""
        return self.update(request, *args, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        try:
            services.custom_schedule_delete(schedule=schedule)
        except services.ScheduleInUse as exc:
            raise Conflict(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=TariffPushRequestSerializer, responses={202: ActionAcceptedSerializer})
    @action(detail=True, methods=["post"], throttle_scope="site_actions", pagination_class=None)
    def push(self, request: Request, pk: str | None = None) -> Response:
        """Put this plan on a Powerwall (``site`` required) and hold it there, until you resume
        price sync or for ``hours``. Queued; to keep a site on the plan for good, make it the
        site's price source instead."""
        schedule = self.get_object()
        return _hold_accepted(
            request,
            default_site=None,
            content=render_custom_tariff(schedule_from_dict(schedule.definition)),
            name=schedule.name,
            source="plan",
            source_id=schedule.pk,
        )


@extend_schema(parameters=[ProfileQuerySerializer])
class TouProfileViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[TouProfile],
):
    """Saved tariffs: kept by the household, backups taken before a spike, the site's default.

    Filters: ``site``, ``kind``. PATCH renames a profile; its tariff never changes.
    """

    permission_classes = [IsHouseholdMember]
    throttle_scope: str | None = None  # the push action sets "site_actions"
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[TouProfile]:
        profiles = tou_profiles_for_user(self.request.user).order_by("-created_at", "-id")
        if self.action != "list":
            return profiles
        params = ProfileQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        if "site" in params.validated_data:
            profiles = profiles.filter(site_id=params.validated_data["site"])
        if "kind" in params.validated_data:
            profiles = profiles.filter(kind=params.validated_data["kind"])
        return profiles

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action == "list":
            return TouProfileListSerializer
        if self.action == "create":
            return TouProfileCreateSerializer
        if self.action == "save_current":
            return TouProfileSaveCurrentSerializer
        if self.action == "partial_update":
            return TouProfileRenameSerializer
        return TouProfileSerializer

    @extend_schema(request=TouProfileCreateSerializer, responses={201: TouProfileSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = TouProfileCreateSerializer(data=request.data, context={"request": request})
        params.is_valid(raise_exception=True)
        values = params.validated_data
        try:
            profile = services.tou_profile_create(
                household=values["household"],
                site=values.get("site"),
                name=values["name"],
                tariff_content=values["tariff_content"],
            )
        except TariffInvalid as exc:
            raise serializers.ValidationError({"tariff_content": [str(exc)]}) from None
        except DjangoValidationError as exc:
            raise validation_error_from_django(exc) from None
        return Response(TouProfileSerializer(profile).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TouProfileRenameSerializer, responses=TouProfileSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        profile = self.get_object()
        params = TouProfileRenameSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            profile = services.tou_profile_rename(
                profile=profile, name=params.validated_data["name"]
            )
        except DjangoValidationError as exc:
            raise validation_error_from_django(exc) from None
        return Response(TouProfileSerializer(profile).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.tou_profile_delete(profile=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=TouProfileSerializer)
    @action(detail=True, methods=["post"], url_path="set-default")
    def set_default(self, request: Request, pk: str | None = None) -> Response:
        """Make this profile its site's default (the previous default becomes a manual one)."""
        try:
            profile = services.tou_profile_set_default(profile=self.get_object())
        except DjangoValidationError as exc:
            raise validation_error_from_django(exc) from None
        return Response(TouProfileSerializer(profile).data)

    @extend_schema(request=TariffPushRequestSerializer, responses={202: ActionAcceptedSerializer})
    @action(detail=True, methods=["post"], throttle_scope="site_actions", pagination_class=None)
    def push(self, request: Request, pk: str | None = None) -> Response:
        """Put this saved tariff on a Powerwall (``site``, default: the profile's own site) and
        hold it there, until you resume price sync or for ``hours``. Queued."""
        profile = self.get_object()
        return _hold_accepted(
            request,
            default_site=profile.site,
            content=profile.tariff_content,
            name=profile.name,
            source="profile",
            source_id=profile.pk,
        )

    @extend_schema(request=TouProfileSaveCurrentSerializer, responses={201: TouProfileSerializer})
    @action(detail=False, methods=["post"], url_path="save-current")
    def save_current(self, request: Request) -> Response:
        """Read the tariff Tesla holds now for ``site`` and save it as a profile."""
        params = TouProfileSaveCurrentSerializer(data=request.data, context={"request": request})
        params.is_valid(raise_exception=True)
        try:
            profile = services.tou_profile_save_current(
                site=params.validated_data["site"], name=params.validated_data["name"]
            )
        except DjangoValidationError as exc:  # not connected to Tesla: nothing to ask
            raise validation_error_from_django(exc) from None
        except ConnectionCheckFailed as exc:
            raise UpstreamFailed(exc.message) from None
        except TariffInvalid as exc:
            raise UpstreamFailed(f"Tesla's tariff could not be read: {exc}") from None
        return Response(TouProfileSerializer(profile).data, status=status.HTTP_201_CREATED)


def _hold_accepted(
    request: Request,
    *,
    default_site: Site | None,
    content: dict[str, Any],
    name: str,
    source: str,
    source_id: int,
) -> Response:
    """Validate the target site and the tariff, hold it there (automations.holds), answer 202."""
    params = TariffPushRequestSerializer(data=request.data, context={"request": request})
    params.is_valid(raise_exception=True)
    site = params.validated_data.get("site") or default_site
    if site is None:
        raise serializers.ValidationError({"site": ["Choose the site to push to."]})
    if not site.tesla_energy_site_id or site.needs_reauthorisation:
        raise serializers.ValidationError({"site": ["Connect this site's Powerwall first."]})
    hours = params.validated_data.get("hours")
    try:
        holds.household_hold_start(
            site=site,
            tariff_content=content,
            name=name,
            source=source,
            source_id=source_id,
            hours=int(hours) if hours else None,
            by=request.user.get_username(),
        )
    except TariffInvalid as exc:
        raise serializers.ValidationError({"tariff": [str(exc)]}) from None
    held = f"for {hours} hours" if hours else "until you resume price sync"
    detail = f"Your {source} “{name}” is queued for the Powerwall, held {held}."
    body = {"site": site.pk, "action": "push", "detail": detail}
    return Response(ActionAcceptedSerializer(body).data, status=status.HTTP_202_ACCEPTED)
