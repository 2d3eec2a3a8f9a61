from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from households.models import Membership
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.models import CustomTouSchedule, TariffPush, TouProfile
from tests.api.conftest import error, flat_definition, schedule_definition, tariff_content

pytestmark = pytest.mark.django_db


def z(moment: dt.datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# --- pushes -----------------------------------------------------------------------------------


def test_pushes_list_retrieve_and_filters(api, world, other):
    refused = TariffPush.objects.create(
        site=world.aemo_site,
        reason=TariffPush.Reason.SETTLED,
        status=TariffPush.Status.REFUSED,
        detail="prices are stale",
    )
    body = api.get("/api/v1/pushes/").json()
    assert body["count"] == 2
    assert [p["id"] for p in body["results"]] == [refused.pk, world.push.pk]
    assert "tariff_content" not in body["results"][0]
    assert body["results"][0] == {
        "id": refused.pk,
        "site": world.aemo_site.pk,
        "reason": "settled",
        "status": "refused",
        "detail": "prices are stale",
        "fingerprint": "",
        "created_at": z(refused.created_at),
        "pushed_at": None,
        "verified_at": None,
    }
    detail = api.get(f"/api/v1/pushes/{world.push.pk}/").json()
    assert detail["tariff_content"] == world.push.tariff_content
    assert detail["fingerprint"] == world.push.fingerprint

    def ids(query: str) -> list[int]:
        response = api.get(f"/api/v1/pushes/?{query}")
        assert response.status_code == 200, response.json()
        return [p["id"] for p in response.json()["results"]]

    assert ids("status=refused") == [refused.pk]
    assert ids("reason=forecast") == [world.push.pk]
    assert ids(f"site={world.site.pk}") == [world.push.pk]
    assert ids("start=2000-01-01T00:00:00Z&end=2000-01-02T00:00:00Z") == []
    bad = api.get("/api/v1/pushes/?status=maybe&start=soon")
    assert bad.status_code == 400
    assert sorted(error(bad)["fields"]) == ["start", "status"]


# --- tariff current / preview -----------------------------------------------------------------


def test_current_tariff_is_the_latest_confirmed_push(api, world):
    TariffPush.objects.create(  # newer but not confirmed: not what Tesla holds
        site=world.site,
        tariff_content=tariff_content(buy_c="99"),
        reason=TariffPush.Reason.MANUAL,
        status=TariffPush.Status.SENT,
    )
    body = api.get(f"/api/v1/sites/{world.site.pk}/tariff/current/").json()
    assert body["push"]["id"] == world.push.pk
    assert body["local_date"] == timezone.now().astimezone(world.site.zone).date().isoformat()
    assert len(body["half_hours"]) == 48
    assert body["half_hours"][35] == {
        "index": 35,
        "name": "PERIOD_17_30",
        "local_start": "17:30",
        "buy_dollars_per_kwh": "0.3000",
        "sell_dollars_per_kwh": "0.0500",
    }


def test_current_tariff_missing_is_404(api, world):
    response = api.get(f"/api/v1/sites/{world.aemo_site.pk}/tariff/current/")
    assert response.status_code == 404
    assert error(response)["message"] == "No tariff has been confirmed on this site yet."


def test_preview_of_a_custom_schedule_site(api, world):
    response = api.get(f"/api/v1/sites/{world.custom_site.pk}/tariff/preview/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["price_source"] == "custom"
    assert body["tariff_content"] == tariff_content()
    assert body["fingerprint"] == tariff_fingerprint(tariff_content())
    assert {h["buy_dollars_per_kwh"] for h in body["half_hours"]} == {"0.3000"}
    assert {h["sell_dollars_per_kwh"] for h in body["half_hours"]} == {"0.0500"}


def test_preview_not_available_for_live_price_sites_yet(api, world):
    response = api.get(f"/api/v1/sites/{world.site.pk}/tariff/preview/")
    assert response.status_code == 501
    assert error(response) == {
        "code": "not_implemented",
        "message": "A preview is available for custom-schedule sites only, for now.",
        "fields": {},
    }


# --- custom schedules -------------------------------------------------------------------------


def test_schedule_create_retrieve_update_delete(api, world):
    created = api.post("/api/v1/schedules/", {"definition": schedule_definition()}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    schedule = CustomTouSchedule.objects.get(pk=body["id"])
    assert body["household"] == world.household.pk
    assert body["name"] == "Example Energy Two-Season TOU (Ausgrid-style)"
    assert body["retailer"] == "Example Energy"
    assert body["daily_supply_charge_dollars"] == "1.1050"
    assert body["demand_charge_dollars_per_kw"] == "0.3512"
    assert body["site_ids"] == []
    assert schedule.definition["seasons"][0]["periods"][0]["buy_dollars_per_kwh"] == "0.528"

    assert api.get(f"/api/v1/schedules/{schedule.pk}/").json() == body
    listed = api.get("/api/v1/schedules/").json()
    assert [s["id"] for s in listed["results"]] == [world.schedule.pk, schedule.pk]

    updated = api.put(
        f"/api/v1/schedules/{schedule.pk}/",
        {"definition": flat_definition(name="Renamed plan", buy_c="41")},
        format="json",
    )
    assert updated.status_code == 200, updated.json()
    schedule.refresh_from_db()
    assert schedule.name == "Renamed plan"
    assert schedule.definition["seasons"][0]["periods"][0]["buy_dollars_per_kwh"] == "0.41"

    assert api.delete(f"/api/v1/schedules/{schedule.pk}/").status_code == 204
    assert not CustomTouSchedule.objects.filter(pk=schedule.pk).exists()


def test_schedule_in_use_cannot_be_deleted(api, world):
    response = api.delete(f"/api/v1/schedules/{world.schedule.pk}/")
    assert response.status_code == 409
    assert error(response) == {
        "code": "conflict",
        "message": "A site uses this schedule; choose another price source first.",
        "fields": {},
    }
    assert CustomTouSchedule.objects.filter(pk=world.schedule.pk).exists()


def _gap_definition() -> dict:
    definition = flat_definition(name="Gappy")
    definition["seasons"][0]["periods"][0]["windows"] = [
        {"days": "all", "from": "00:00", "to": "12:00"}
    ]
    return definition


def _bad_clock_definition() -> dict:
    definition = flat_definition(name="Bad clock")
    definition["seasons"][0]["periods"][0]["windows"][0]["from"] = "25:00"
    return definition


@pytest.mark.parametrize(
    ("definition", "field", "message"),
    [
        (
            _gap_definition(),
            "definition",
            "season 'All year', Monday: 12:00-24:00 is not covered by any period",
        ),
        (
            _bad_clock_definition(),
            "definition.seasons[0].periods[0].windows[0].from",
            "seasons[0].periods[0].windows[0].from: '25:00' is not a time of day",
        ),
        (
            flat_definition(buy_c="-5"),
            "definition",
            None,
        ),
        ("not an object", "definition", "Expected a JSON object."),
        ({"name": "x"}, "definition", "schedule: 'seasons' is required"),
    ],
)
def test_invalid_schedule_is_400_with_the_engine_message(api, world, definition, field, message):
    before = list(CustomTouSchedule.objects.values_list("pk", "definition"))
    response = api.post("/api/v1/schedules/", {"definition": definition}, format="json")
    assert response.status_code == 400, response.json()
    body = error(response)
    assert list(body["fields"]) == [field]
    if message is not None:
        assert body["fields"][field] == [message]
    assert list(CustomTouSchedule.objects.values_list("pk", "definition")) == before


def test_invalid_update_changes_nothing(api, world):
    response = api.put(
        f"/api/v1/schedules/{world.schedule.pk}/",
        {"definition": _gap_definition()},
        format="json",
    )
    assert response.status_code == 400
    world.schedule.refresh_from_db()
    assert world.schedule.definition == flat_definition()


def test_duplicate_schedule_name_is_400(api, world):
    response = api.post("/api/v1/schedules/", {"definition": flat_definition()}, format="json")
    assert response.status_code == 400
    assert error(response)["fields"] == {"name": ["You already have a schedule with this name."]}


# --- profiles ---------------------------------------------------------------------------------


def test_profile_create_list_retrieve_delete(api, world):
    created = api.post(
        "/api/v1/profiles/",
        {"site": world.site.pk, "name": "Winter", "tariff_content": tariff_content("20")},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    profile = TouProfile.objects.get(pk=body["id"])
    assert body == {
        "id": profile.pk,
        "household": world.household.pk,
        "site": world.site.pk,
        "name": "Winter",
        "kind": "manual",
        "fingerprint": tariff_fingerprint(tariff_content("20")),
        "tariff_content": tariff_content("20"),
        "created_at": z(profile.created_at),
    }
    listed = api.get("/api/v1/profiles/").json()
    assert [p["id"] for p in listed["results"]] == [profile.pk, world.profile.pk]
    assert "tariff_content" not in listed["results"][0]
    assert api.get(f"/api/v1/profiles/?site={world.aemo_site.pk}").json()["count"] == 0
    assert api.get(f"/api/v1/profiles/{profile.pk}/").json() == body
    assert api.delete(f"/api/v1/profiles/{profile.pk}/").status_code == 204
    assert not TouProfile.objects.filter(pk=profile.pk).exists()


def test_profile_rename(api, world):
    response = api.patch(f"/api/v1/profiles/{world.profile.pk}/", {"name": "  Autumn "})
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Autumn"
    world.profile.refresh_from_db()
    assert world.profile.name == "Autumn"
    assert world.profile.tariff_content == tariff_content()


@pytest.mark.parametrize("payload", [{"name": "   "}, {"name": ""}, {}, {"name": "x" * 121}])
def test_bad_profile_rename_is_400_and_changes_nothing(api, world, payload):
    response = api.patch(f"/api/v1/profiles/{world.profile.pk}/", payload)
    assert response.status_code == 400
    assert list(error(response)["fields"]) == ["name"]
    world.profile.refresh_from_db()
    assert world.profile.name == "Summer saver"


def test_profile_put_is_not_allowed(api, world):
    response = api.put(f"/api/v1/profiles/{world.profile.pk}/", {"name": "x"})
    assert response.status_code == 405


def test_profile_set_default(api, world):
    second = TouProfile.objects.create(
        household=world.household,
        site=world.site,
        name="Other",
        tariff_content=tariff_content(),
        kind=TouProfile.Kind.DEFAULT,
    )
    response = api.post(f"/api/v1/profiles/{world.profile.pk}/set-default/")
    assert response.status_code == 200
    assert response.json()["kind"] == "default"
    world.profile.refresh_from_db()
    second.refresh_from_db()
    assert world.profile.kind == "default"
    assert second.kind == "manual"


def test_profile_without_site_cannot_be_default(api, world):
    loose = TouProfile.objects.create(
        household=world.household, name="Loose", tariff_content=tariff_content()
    )
    response = api.post(f"/api/v1/profiles/{loose.pk}/set-default/")
    assert response.status_code == 400
    assert error(response)["fields"] == {
        "site": ["Only a profile saved for a site can be its default."]
    }
    loose.refresh_from_db()
    assert loose.kind == "manual"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "tariff_content": {"seasons": "nope"}}, "tariff_content"),
        ({"name": "x", "tariff_content": []}, "tariff_content"),
        ({"tariff_content": {}}, "name"),
        ({"name": "x", "site": 999999, "tariff_content": {}}, "site"),
    ],
)
def test_bad_profile_is_400_and_creates_nothing(api, world, payload, field):
    response = api.post("/api/v1/profiles/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in error(response)["fields"]
    assert TouProfile.objects.count() == 1


def test_household_is_required_when_the_user_has_several(api, world, other):
    Membership.objects.create(user=world.user, household=other.household)
    response = api.post(
        "/api/v1/profiles/", {"name": "x", "tariff_content": tariff_content()}, format="json"
    )
    assert response.status_code == 400
    assert list(error(response)["fields"]) == ["household"]
    chosen = api.post(
        "/api/v1/profiles/",
        {"name": "x", "household": other.household.pk, "tariff_content": tariff_content()},
        format="json",
    )
    assert chosen.status_code == 201
    assert chosen.json()["household"] == other.household.pk
