from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.urls import reverse

from tariffs.engine.custom_tou import schedule_from_dict
from tariffs.engine.tesla_format import render_custom_tariff
from tariffs.models import CustomTouSchedule, TouProfile
from tariffs.services import custom_schedule_create, tou_profile_create
from tests.factories import SiteFactory
from web.forms.tou import STARTER_DEFINITION

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tesla"


def _post(client, url, definition, action="save", **extra):
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return client.post(url, {"definition": text, "action": action, **extra})


def test_builder_page_renders_the_starter_plan_and_its_week(mine):
    response = mine.client.get(reverse("web:schedule_new"))
    assert response.status_code == 200
    assert b'id="tou-preview"' in response.content
    assert response.content.count(b'<td style="background: hsl(') == 7 * 48
    assert b"tou_builder.js" in response.content


def test_preview_shows_a_7_by_48_grid_and_saves_nothing(mine):
    response = _post(
        mine.client,
        reverse("web:schedule_new"),
        STARTER_DEFINITION,
        "preview",
        preview_date="2026-07-15",
    )
    assert response.status_code == 200
    assert b"Week of 13 Jul 2026" in response.content
    assert b"Mon 15:00 \xc2\xb7 buy 45.00 c/kWh" in response.content
    assert not CustomTouSchedule.objects.exists()


def test_a_preview_week_past_the_date_bounds_is_a_400(mine):
    response = _post(
        mine.client,
        reverse("web:schedule_new"),
        STARTER_DEFINITION,
        "preview",
        preview_date="9999-12-31",
    )
    assert response.status_code == 400
    assert b"Choose a date between 01 Jan 2000 and 31 Dec 2099" in response.content
    assert not CustomTouSchedule.objects.exists()


def test_the_engines_exact_error_is_shown_and_nothing_is_saved(mine):
    broken = copy.deepcopy(STARTER_DEFINITION)
    broken["seasons"][0]["periods"][0]["windows"][0]["to"] = "20:00"  # 20:00-21:00 uncovered

    response = _post(mine.client, reverse("web:schedule_new"), broken)

    assert response.status_code == 400
    assert (
        b"season &#x27;All year&#x27;, Monday: 20:00-21:00 is not covered by any period"
        in response.content
    )
    assert not CustomTouSchedule.objects.exists()


def test_bad_json_is_a_400(mine):
    response = _post(mine.client, reverse("web:schedule_new"), "{not json")
    assert response.status_code == 400
    assert b"This is not valid JSON" in response.content


def test_save_creates_the_schedule_for_the_household(mine):
    response = _post(mine.client, reverse("web:schedule_new"), STARTER_DEFINITION)
    assert response.status_code == 302
    schedule = CustomTouSchedule.objects.get()
    assert schedule.household == mine.household
    assert schedule.definition["seasons"][0]["periods"][0]["buy_dollars_per_kwh"] == "0.45"
    assert str(schedule.daily_supply_charge_dollars) == "1.1000"
    assert b"My time-of-use plan" in mine.client.get(reverse("web:schedules")).content


def test_another_households_schedule_is_404_and_unchanged(mine, theirs):
    schedule = custom_schedule_create(household=theirs.household, definition=STARTER_DEFINITION)
    renamed = {**STARTER_DEFINITION, "name": "Hijacked"}
    assert mine.client.get(reverse("web:schedule_edit", args=[schedule.pk])).status_code == 404
    assert (
        _post(mine.client, reverse("web:schedule_edit", args=[schedule.pk]), renamed).status_code
        == 404
    )
    assert mine.client.post(reverse("web:schedule_delete", args=[schedule.pk])).status_code == 404
    schedule.refresh_from_db()
    assert schedule.name == "My time-of-use plan"


def test_a_schedule_in_use_is_not_deleted(mine):
    schedule = custom_schedule_create(household=mine.household, definition=STARTER_DEFINITION)
    SiteFactory.create(
        household=mine.household, price_source="custom", amber_site_id="", custom_schedule=schedule
    )
    mine.client.post(reverse("web:schedule_delete", args=[schedule.pk]))
    assert CustomTouSchedule.objects.filter(pk=schedule.pk).exists()


def _tariff():
    return render_custom_tariff(schedule_from_dict(STARTER_DEFINITION))


def test_profiles_list_detail_default_and_delete(mine):
    saved = tou_profile_create(
        household=mine.household, site=mine.site, name="Winter", tariff_content=_tariff()
    )
    backup = tou_profile_create(
        household=mine.household,
        site=mine.site,
        name="Before spike",
        tariff_content=_tariff(),
        kind=TouProfile.Kind.PRE_SPIKE,
    )
    listing = mine.client.get(reverse("web:profiles")).content.decode()
    assert "Winter" in listing
    assert "Pre-spike" in listing

    detail = mine.client.get(reverse("web:profile_detail", args=[saved.pk]))
    assert detail.status_code == 200
    assert detail.content.count(b"<rect") >= 96

    mine.client.post(reverse("web:profile_set_default", args=[saved.pk]))
    mine.client.post(reverse("web:profile_set_default", args=[backup.pk]))
    saved.refresh_from_db()
    backup.refresh_from_db()
    assert (saved.kind, backup.kind) == (TouProfile.Kind.MANUAL, TouProfile.Kind.DEFAULT)

    assert mine.client.post(reverse("web:profile_delete", args=[saved.pk])).status_code == 302
    assert not TouProfile.objects.filter(pk=saved.pk).exists()


def test_another_households_profiles_are_404_and_unchanged(mine, theirs):
    profile = tou_profile_create(
        household=theirs.household, site=theirs.site, name="Theirs", tariff_content=_tariff()
    )
    assert mine.client.get(reverse("web:profile_detail", args=[profile.pk])).status_code == 404
    assert (
        mine.client.post(reverse("web:profile_set_default", args=[profile.pk])).status_code == 404
    )
    assert mine.client.post(reverse("web:profile_delete", args=[profile.pk])).status_code == 404
    assert "Theirs" not in mine.client.get(reverse("web:profiles")).content.decode()
    profile.refresh_from_db()
    assert profile.kind == TouProfile.Kind.MANUAL
    url = reverse("web:profile_save_current", args=[theirs.site.pk])
    assert mine.client.post(url).status_code == 404


def test_save_the_tariff_tesla_holds_now(mine, rsps):
    from credentials.models import SiteCredentials

    SiteCredentials.objects.create(site=mine.site, teslemetry_api_key="key")
    mine.site.teslemetry_region = "na"
    mine.site.tesla_energy_site_id = "123456"
    mine.site.save()
    site_info = json.loads((FIXTURES / "teslemetry_site_info_multi_season.json").read_text())
    rsps.get("https://na.teslemetry.test/api/1/energy_sites/123456/site_info", json=site_info)

    response = mine.client.post(
        reverse("web:profile_save_current", args=[mine.site.pk]), {"name": "From Tesla"}
    )

    assert response.status_code == 302
    profile = TouProfile.objects.get(name="From Tesla")
    assert profile.site == mine.site
    assert profile.fingerprint


def test_save_current_reports_a_tesla_failure_and_saves_nothing(mine, rsps):
    from credentials.models import SiteCredentials

    SiteCredentials.objects.create(site=mine.site, teslemetry_api_key="key")
    mine.site.teslemetry_region = "na"
    mine.site.save()
    rsps.get(
        f"https://na.teslemetry.test/api/1/energy_sites/{mine.site.tesla_energy_site_id}/site_info",
        status=401,
        json={"error": "invalid_token"},
    )
    response = mine.client.post(
        reverse("web:profile_save_current", args=[mine.site.pk]), follow=True
    )
    assert b"Tesla refused the credentials" in response.content
    assert not TouProfile.objects.exists()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[" * 10_000 + "]" * 10_000, b"This plan is nested more than 32 levels deep."),
        (json.dumps({**STARTER_DEFINITION, "name": "Winter\x00"}), b"This plan contains a NUL"),
        (json.dumps({**STARTER_DEFINITION, "name": "W" * 121}), b"121 characters long"),
    ],
)
def test_a_plan_past_the_bounds_is_a_400_that_says_why(mine, text, says):
    response = _post(mine.client, reverse("web:schedule_new"), text)
    assert response.status_code == 400
    assert says in response.content
    assert not CustomTouSchedule.objects.exists()


def test_save_current_with_a_nul_in_the_name_says_why_and_saves_nothing(mine):
    response = mine.client.post(
        reverse("web:profile_save_current", args=[mine.site.pk]),
        {"name": "Winter\x00"},
        follow=True,
    )
    assert response.status_code == 200
    assert b"name contains a control character" in response.content
    assert not TouProfile.objects.exists()
