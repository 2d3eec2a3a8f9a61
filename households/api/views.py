"""Households, the event log and the caller's API token. Thin: scoping in selectors, writes in
services, shapes in serializers."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import (
    BasicAuthentication,
    SessionAuthentication,
    TokenAuthentication,
)
from rest_framework.authtoken.models import Token
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from households import services
from households.api.filters import filter_events
from households.api.permissions import IsHouseholdMember
from households.api.serializers import (
    EventQuerySerializer,
    EventSerializer,
    HouseholdSerializer,
    TokenIssuedSerializer,
    TokenStatusSerializer,
)
from households.models import Event, Household
from households.selectors import events_for_user, households_for_user


class HouseholdViewSet(viewsets.ReadOnlyModelViewSet[Household]):
    """The households the caller belongs to."""

    serializer_class = HouseholdSerializer
    permission_classes = [IsHouseholdMember]

    def get_queryset(self) -> QuerySet[Household]:
        return households_for_user(self.request.user).prefetch_related("sites").order_by("pk")


@extend_schema(parameters=[EventQuerySerializer])
class EventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Event]):
    """The event log of the caller's households, newest first.

    Filters: ``automation``, ``outcome``, ``site`` (id), ``start``/``end`` (ISO 8601 with UTC
    offset, on the event time; start inclusive, end exclusive).
    """

    serializer_class = EventSerializer
    permission_classes = [IsHouseholdMember]

    def get_queryset(self) -> QuerySet[Event]:
        return filter_events(events_for_user(self.request.user), self.request.query_params)


def _user(request: Request) -> User:
    """The authenticated caller (IsAuthenticated has run)."""
    return cast(User, request.user)


class TokenView(APIView):
    """The caller's API token: see whether one exists, issue a new one, revoke it.

    POST (with a session or HTTP Basic login) issues a new token and revokes any older one; the
    key is shown only in that response. DELETE revokes it. Use it as ``Authorization: Token <key>``.
    """

    authentication_classes = [BasicAuthentication, SessionAuthentication, TokenAuthentication]
    permission_classes = [IsAuthenticated]
    pagination_class = None

    @extend_schema(responses=TokenStatusSerializer)
    def get(self, request: Request) -> Response:
        token = Token.objects.filter(user=_user(request)).first()
        body = {"has_token": token is not None, "created_at": token.created if token else None}
        return Response(TokenStatusSerializer(body).data)

    @extend_schema(request=None, responses={201: TokenIssuedSerializer})
    def post(self, request: Request) -> Response:
        token = services.api_token_issue(user=_user(request))
        body = TokenIssuedSerializer({"token": token.key, "created_at": token.created}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        services.api_token_revoke(user=_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
