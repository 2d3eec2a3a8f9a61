"""Another household's ids get 404 from every object endpoint, and nothing changes.

The walk is checked against the OpenAPI document: every path with an id parameter and every
method it documents must be in ``object_requests``, so a new endpoint cannot skip this test.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from automations.models import AutomationState, SiteIntent, WritePause
from credentials.models import SiteCredentials
from devices.models import DemandPeak, EnergySample, Site
from households.models import Event, Household, Membership
from tariffs.models import CustomTouSchedule, TariffPush, TouProfile
from tests.api.conftest import World, error, flat_definition, tariff_content

pytestmark = pytest.mark.django_db

WATCHED: tuple[type[models.Model], ...] = (
    Household,
    Membership,
    Site,
    AutomationState,
    SiteIntent,
    WritePause,
    SiteCredentials,
    CustomTouSchedule,
    TouProfile,
    TariffPush,
    Event,
    EnergySample,
    DemandPeak,
    Token,
)


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        model.__name__: list(model._default_manager.order_by("pk").values()) for model in WATCHED
    }


def object_requests(other: World) -> list[tuple[str, str, str, Any]]:
    """(method, path template, concrete path, body) for every object endpoint."""
    site = other.site.pk
    return [
        ("get", "/api/v1/households/{id}/", f"/api/v1/households/{other.household.pk}/", None),
        ("get", "/api/v1/sites/{id}/", f"/api/v1/sites/{site}/", None),
        (
            "patch",
            "/api/v1/sites/{id}/",
            f"/api/v1/sites/{site}/",
            {"name": "Hijacked", "tou_sync_enabled": False, "credentials": {"amber_token": "x"}},
        ),
        ("get", "/api/v1/sites/{id}/sensors/", f"/api/v1/sites/{site}/sensors/", None),
        ("post", "/api/v1/sites/{id}/sync/", f"/api/v1/sites/{site}/sync/", None),
        ("post", "/api/v1/sites/{id}/sync-tou/", f"/api/v1/sites/{site}/sync-tou/", None),
        (
            "post",
            "/api/v1/sites/{id}/force-discharge/",
            f"/api/v1/sites/{site}/force-discharge/",
            {"minutes": 30},
        ),
        ("post", "/api/v1/sites/{id}/restore/", f"/api/v1/sites/{site}/restore/", None),
        ("post", "/api/v1/sites/{id}/resume-sync/", f"/api/v1/sites/{site}/resume-sync/", None),
        ("get", "/api/v1/sites/{id}/control/", f"/api/v1/sites/{site}/control/", None),
        (
            "get",
            "/api/v1/sites/{site_id}/energy/samples/",
            f"/api/v1/sites/{site}/energy/samples/",
            None,
        ),
        (
            "get",
            "/api/v1/sites/{site_id}/energy/latest/",
            f"/api/v1/sites/{site}/energy/latest/",
            None,
        ),
        (
            "get",
            "/api/v1/sites/{site_id}/energy/demand-peaks/",
            f"/api/v1/sites/{site}/energy/demand-peaks/",
            None,
        ),
        ("get", "/api/v1/sites/{site_id}/prices/", f"/api/v1/sites/{site}/prices/", None),
        (
            "get",
            "/api/v1/sites/{site_id}/prices/current/",
            f"/api/v1/sites/{site}/prices/current/",
            None,
        ),
        (
            "get",
            "/api/v1/sites/{site_id}/tariff/current/",
            f"/api/v1/sites/{site}/tariff/current/",
            None,
        ),
        (
            "get",
            "/api/v1/sites/{site_id}/tariff/preview/",
            f"/api/v1/sites/{other.custom_site.pk}/tariff/preview/",
            None,
        ),
        ("get", "/api/v1/pushes/{id}/", f"/api/v1/pushes/{other.push.pk}/", None),
        ("get", "/api/v1/profiles/{id}/", f"/api/v1/profiles/{other.profile.pk}/", None),
        (
            "patch",
            "/api/v1/profiles/{id}/",
            f"/api/v1/profiles/{other.profile.pk}/",
            {"name": "Hijacked"},
        ),
        ("delete", "/api/v1/profiles/{id}/", f"/api/v1/profiles/{other.profile.pk}/", None),
        (
            "post",
            "/api/v1/profiles/{id}/set-default/",
            f"/api/v1/profiles/{other.profile.pk}/set-default/",
            None,
        ),
        (
            "post",
            "/api/v1/profiles/{id}/push/",
            f"/api/v1/profiles/{other.profile.pk}/push/",
            {"site": other.site.pk},
        ),
        (
            "post",
            "/api/v1/schedules/{id}/push/",
            f"/api/v1/schedules/{other.schedule.pk}/push/",
            {"site": other.site.pk},
        ),
        ("get", "/api/v1/schedules/{id}/", f"/api/v1/schedules/{other.schedule.pk}/", None),
        (
            "put",
            "/api/v1/schedules/{id}/",
            f"/api/v1/schedules/{other.schedule.pk}/",
            {"definition": flat_definition(name="Hijacked")},
        ),
        (
            "patch",
            "/api/v1/schedules/{id}/",
            f"/api/v1/schedules/{other.schedule.pk}/",
            {"definition": flat_definition(name="Hijacked")},
        ),
        ("delete", "/api/v1/schedules/{id}/", f"/api/v1/schedules/{other.schedule.pk}/", None),
    ]


def test_every_object_endpoint_is_404_for_another_households_ids(
    api, world, other, django_capture_on_commit_callbacks
):
    other.add_amber_prices(other.push.created_at)
    before = snapshot()
    with django_capture_on_commit_callbacks() as queued:
        for method, _template, path, body in object_requests(other):
            response = getattr(api, method)(path, body, format="json")
            assert response.status_code == 404, (method, path, response.status_code)
            assert error(response)["code"] == "not_found", (method, path)
            assert "Hijacked" not in response.content.decode()
    assert snapshot() == before
    assert queued == []  # no sync, reconcile or command was queued for their site


def test_the_walk_covers_every_documented_object_endpoint(world, other):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = {
        (method, path)
        for path, operations in schema["paths"].items()
        if "{" in path
        for method in operations
    }
    walked = {(method, template) for method, template, _path, _body in object_requests(other)}
    walked |= {(method, template) for method, template, _path, _body in staff_requests(other)}
    assert documented - walked == set()


def staff_requests(other: World) -> list[tuple[str, str, str, Any]]:
    """The operator's endpoints: a household member gets 403 from each, whatever the id."""
    pause = WritePause.objects.create(scope="fleet", reason="incident")
    return [
        ("get", "/api/v1/ops/write-pauses/", "/api/v1/ops/write-pauses/", None),
        (
            "post",
            "/api/v1/ops/write-pauses/",
            "/api/v1/ops/write-pauses/",
            {"scope": "fleet", "reason": "x"},
        ),
        (
            "get",
            "/api/v1/ops/write-pauses/{id}/",
            f"/api/v1/ops/write-pauses/{pause.pk}/",
            None,
        ),
        (
            "post",
            "/api/v1/ops/write-pauses/{id}/resume/",
            f"/api/v1/ops/write-pauses/{pause.pk}/resume/",
            None,
        ),
    ]


def test_the_operators_endpoints_are_403_for_households(api, world, other):
    requests = staff_requests(other)
    before = snapshot()
    for method, _template, path, body in requests:
        response = getattr(api, method)(path, body, format="json")
        assert response.status_code == 403, (method, path)
        assert error(response)["code"] == "permission_denied"
    assert snapshot() == before


def test_lists_never_show_another_households_objects(api, world, other):
    expected = {
        "/api/v1/households/": {world.household.pk},
        "/api/v1/sites/": {world.site.pk, world.aemo_site.pk, world.custom_site.pk},
        "/api/v1/events/": {world.event.pk},
        "/api/v1/pushes/": {world.push.pk},
        "/api/v1/profiles/": {world.profile.pk},
        "/api/v1/schedules/": {world.schedule.pk},
        f"/api/v1/events/?site={other.site.pk}": set(),
        f"/api/v1/pushes/?site={other.site.pk}": set(),
        f"/api/v1/profiles/?site={other.site.pk}": set(),
    }
    for path, ids in expected.items():
        body = api.get(path).json()
        assert {item["id"] for item in body["results"]} == ids, path


def test_writes_naming_another_households_objects_are_refused(api, world, other):
    before = snapshot()
    attempts = [
        (
            "/api/v1/profiles/",
            {"site": other.site.pk, "name": "x", "tariff_content": tariff_content()},
        ),
        (
            "/api/v1/profiles/",
            {"household": other.household.pk, "name": "x", "tariff_content": tariff_content()},
        ),
        ("/api/v1/profiles/save-current/", {"site": other.site.pk, "name": "x"}),
        (
            "/api/v1/schedules/",
            {"household": other.household.pk, "definition": flat_definition(name="New")},
        ),
    ]
    for path, body in attempts:
        response = api.post(path, body, format="json")
        assert response.status_code == 400, (path, response.json())
        assert set(error(response)["fields"]) <= {"site", "household"}, path
    response = api.patch(
        f"/api/v1/sites/{world.site.pk}/",
        {"price_source": "custom", "custom_schedule": other.schedule.pk},
        format="json",
    )
    assert response.status_code == 400
    assert list(error(response)["fields"]) == ["custom_schedule"]
    assert snapshot() == before
