"""Bad input is a 400 that says why and saves nothing, never a 500 or a 502 (issue 16): names
too long or holding a NUL, amounts past any real price, JSON nested past any real plan or
holding a NUL, a body nested past Python's parser, a Tesla read of a site without Tesla."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tariffs.models import CustomTouSchedule, TouProfile
from tests.api.conftest import error, flat_definition, tariff_content

pytestmark = pytest.mark.django_db


def with_(definition: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(definition)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


PERIOD = ("seasons", 0, "periods", 0)


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        (("name",), "x" * 121, "schedule name is 121 characters long (at most 120)"),
        (("utility",), "u" * 500, "utility is 500 characters long (at most 120)"),
        (("name",), "Winter\x00", "The plan contains a NUL character."),
        (("seasons", 0, "name"), "All\x07year", "contains a control character"),
        ((*PERIOD, "name"), "PEAK\x1b", "contains a control character"),
        (("daily_supply_c",), "1e10", "is over $1000"),
        ((*PERIOD, "demand_dollars_per_kw"), "99999999", "is over $1000"),
        ((*PERIOD, "buy_c_per_kwh"), "1e30", "is over $1000"),
        ((*PERIOD, "windows", 0, "days"), "mon\x00", None),
    ],
)
def test_a_schedule_past_the_bounds_is_a_400_and_saves_nothing(api, world, path, value, says):
    before = CustomTouSchedule.objects.count()
    definition = with_(flat_definition(name="Bounded"), path, value)
    response = api.post("/api/v1/schedules/", {"definition": definition}, format="json")
    assert response.status_code == 400, response.content
    messages = [m for ms in error(response)["fields"].values() for m in ms]
    if says is not None:
        assert any(says in message for message in messages), messages
    assert CustomTouSchedule.objects.count() == before


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_json_nested_past_the_bound_is_a_400(api, world):
    definition = flat_definition(name="Deep")
    definition["extra"] = nested(40)
    response = api.post("/api/v1/schedules/", {"definition": definition}, format="json")
    assert response.status_code == 400
    assert error(response)["fields"] == {
        "definition": ["The plan is nested more than 32 levels deep."]
    }


def test_a_body_nested_past_pythons_parser_is_a_400_parse_error(api, world):
    body = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api.generic(
        "PATCH", f"/api/v1/sites/{world.site.pk}/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert error(response)["code"] == "parse_error"
    assert "nested more than" in error(response)["message"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (with_(tariff_content(), ("name",), "Winter\x00"), "NUL"),
        (with_(tariff_content(), ("utility",), "U" * 200), "200 characters long"),
        (
            with_(tariff_content(), ("energy_charges", "All year", "rates", "ANYTIME"), 1e308),
            "is over $1000",
        ),
        (
            with_(tariff_content(), ("energy_charges", "All year", "rates", "ANYTIME"), -0.2),
            "negative",
        ),
    ],
)
def test_a_profile_a_powerwall_would_refuse_is_refused_at_once(api, world, content, says):
    before = TouProfile.objects.count()
    response = api.post(
        "/api/v1/profiles/",
        {"site": world.site.pk, "name": "Bad", "tariff_content": content},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert any(says in m for m in error(response)["fields"]["tariff_content"])
    assert TouProfile.objects.count() == before


def test_save_current_on_a_site_without_tesla_is_a_400_that_says_why(api, world):
    """Nothing to ask Tesla: the household's input (the site) is the problem, not Tesla (502)."""
    response = api.post(
        "/api/v1/profiles/save-current/", {"site": world.site.pk, "name": "Now"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert error(response)["fields"] == {
        "site": ["This site is not connected to Tesla yet: connect it first."]
    }
    assert TouProfile.objects.count() == 1
