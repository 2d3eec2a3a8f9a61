"""URLs of the REST API, mounted at /api/v1/ (powersync_site/urls.py).

Each app's ``api/urls.py`` holds its resources; this module puts them together with the OpenAPI
document (/api/v1/schema/), its browsable views (/api/v1/docs/ Swagger UI, /api/v1/redoc/, assets
served from the project by drf-spectacular-sidecar) and an enveloped 404 for unknown API paths.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path, re_path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


@extend_schema(exclude=True)
class UnknownEndpoint(APIView):
    """Any path under /api/v1/ that names no endpoint: a 404 in the API's error envelope."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound("There is no such API endpoint.")

    post = put = patch = delete = get


urlpatterns = [
    path("", include("households.api.urls")),
    path("", include("devices.api.urls")),
    path("", include("pricing.api.urls")),
    path("", include("tariffs.api.urls")),
    path("", include("automations.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^.*$", UnknownEndpoint.as_view(), name="api-unknown"),
]
