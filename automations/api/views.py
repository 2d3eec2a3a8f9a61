"""Staff only: the operator's kill switch over the API (list, pause, resume)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from automations import pauses
from automations.api.serializers import (
    WritePauseCreateSerializer,
    WritePauseResumedSerializer,
    WritePauseSerializer,
)
from automations.models import WritePause
from powersync_site.api_errors import validation_error_from_django


def _staff(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


class WritePauseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[WritePause]
):
    """Pauses of every Tesla write (fleet-wide, per NEM region or per site). Staff only.
    ``?active=true`` lists the pauses in force."""

    permission_classes = [IsAdminUser]
    serializer_class = WritePauseSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[WritePause]:
        pauses_qs = WritePause.objects.select_related("created_by", "ended_by").order_by(
            "-created_at", "-id"
        )
        if self.request.query_params.get("active") in ("true", "1"):
            pauses_qs = pauses_qs.filter(ended_at__isnull=True)
        return pauses_qs

    @extend_schema(request=WritePauseCreateSerializer, responses={201: WritePauseSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = WritePauseCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            pause = pauses.writes_pause(by=_staff(request), **params.validated_data)
        except DjangoValidationError as exc:
            raise validation_error_from_django(exc) from None
        return Response(WritePauseSerializer(pause).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=WritePauseResumedSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """End the pause; every site it held is reconciled (what waited is sent)."""
        pause = self.get_object()
        queued = pauses.writes_resume(pause=pause, by=_staff(request))
        pause = self.get_queryset().get(pk=pause.pk)
        body = {"pause": pause, "sites_queued": queued}
        return Response(WritePauseResumedSerializer(body).data)
