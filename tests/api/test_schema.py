from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    # --fail-on-warn turns every drf-spectacular warning or error into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.read_text().startswith("openapi: 3.0.3")


def _api_routes() -> set[str]:
    """Every route under /api/v1/ as an OpenAPI-style template, from the URL configuration."""
    routes: set[str] = set()

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, text)
            elif isinstance(pattern, URLPattern):
                routes.add(text)

    walk(get_resolver().url_patterns, "")
    return {r for r in routes if r.startswith("api/v1/")}


def test_schema_documents_every_api_route():
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    documented = set(schema["paths"])
    undocumented_by_design = {
        "api/v1/schema/",
        "api/v1/docs/",
        "api/v1/redoc/",
        "api/v1/^.*$",  # the enveloped 404 for unknown API paths
    }

    def template(route: str) -> str:
        route = route.replace("^", "").replace("$", "")
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)  # router regex
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)  # path converters
        route = route.replace("{pk}", "{id}")
        return "/" + route

    routes = {template(r) for r in _api_routes() - undocumented_by_design}
    routes = {r for r in routes if not r.endswith(".{format}") and "\\." not in r}
    assert len(routes) >= 22
    assert routes - documented == set()
    assert len(documented) >= 22


def test_docs_pages_are_served_without_a_cdn():
    api = APIClient()
    for path in ("/api/v1/docs/", "/api/v1/redoc/"):
        response = api.get(path)
        assert response.status_code == 200
        page = response.content.decode()
        assert "cdn.jsdelivr.net" not in page
        assert "unpkg.com" not in page
        assert "/static/drf_spectacular_sidecar/" in page


def test_browsable_api_renders_for_a_logged_in_member(api, world):
    for path in ("/api/v1/sites/", f"/api/v1/sites/{world.site.pk}/", "/api/v1/profiles/"):
        response = api.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert b"<html" in response.content
