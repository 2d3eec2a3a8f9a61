from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from credentials.models import SiteCredentials
from devices.models import Site
from tariffs.models import CustomTouSchedule
from tariffs.services import custom_schedule_create
from web.forms.tou import STARTER_DEFINITION

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tesla"
AMBER = "https://amber.test/v1"
TESLEMETRY = "https://teslemetry.test"
TESLEMETRY_NA = "https://na.teslemetry.test"
AMBER_SITES = [
    {
        "id": "01F5A5CRKMZ5BCX9P1S4V990AM",
        "nmi": "3052282872",
        "channels": [{"identifier": "E1", "type": "general", "tariff": "A100"}],
        "network": "Jemena",
        "status": "active",
        "activeFrom": "2022-01-01",
        "intervalLength": 30,
    }
]
TOKEN = "psk_secret_amber_token_123"
TESLEMETRY_KEY = "teslemetry-secret-key-456"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def test_amber_token_is_verified_then_the_site_is_created_with_the_token(mine, rsps):
    rsps.get(f"{AMBER}/sites", json=AMBER_SITES)
    url = reverse("web:onboarding_amber")

    checked = mine.client.post(url, {"action": "token", "token": TOKEN})
    assert checked.status_code == 302
    # The token waits in the session encrypted, never in clear.
    assert TOKEN not in json.dumps(dict(mine.client.session))
    page = mine.client.get(url)
    assert b"Connected" in page.content
    assert b"badge ok" in page.content
    assert TOKEN.encode() not in page.content

    created = mine.client.post(
        url, {"action": "site", "name": "Beach house", "amber_site_id": AMBER_SITES[0]["id"]}
    )
    assert created.status_code == 302
    site = Site.objects.get(household=mine.household, name="Beach house")
    assert site.amber_site_id == AMBER_SITES[0]["id"]
    assert site.tou_sync_enabled is False
    assert SiteCredentials.objects.get(site=site).amber_token == TOKEN
    assert created["Location"] == reverse("web:site_connect", args=[site.pk])
    assert "web.onboarding.amber" not in mine.client.session


def test_a_refused_amber_token_shows_red_and_creates_nothing(mine, rsps):
    rsps.get(f"{AMBER}/sites", status=401, json={"message": "Unauthorized"})
    before = Site.objects.count()

    response = mine.client.post(
        reverse("web:onboarding_amber"), {"action": "token", "token": "psk_wrong"}
    )

    assert response.status_code == 400
    assert b"badge bad" in response.content
    assert b"Amber refused this token" in response.content
    assert b"psk_wrong" not in response.content
    assert Site.objects.count() == before


def test_a_site_id_not_offered_by_amber_is_refused(mine, rsps):
    rsps.get(f"{AMBER}/sites", json=AMBER_SITES)
    url = reverse("web:onboarding_amber")
    mine.client.post(url, {"action": "token", "token": TOKEN})
    before = Site.objects.count()

    response = mine.client.post(url, {"action": "site", "name": "X", "amber_site_id": "SOMEONE"})

    assert response.status_code == 400
    assert Site.objects.count() == before


def test_aemo_source_needs_a_known_tariff_code(mine):
    url = reverse("web:onboarding_aemo")
    bad = mine.client.post(
        url,
        {
            "name": "Farm",
            "aemo_region": "QLD1",
            "aemo_network": "energex",
            "aemo_tariff_code": "NOPE",
        },
    )
    assert bad.status_code == 400
    assert b"is not a tariff code Energex (QLD) lists. Check your bill." in bad.content
    assert not Site.objects.filter(name="Farm").exists()

    mismatched = mine.client.post(
        url,
        {
            "name": "Farm",
            "aemo_region": "TAS1",
            "aemo_network": "energex",
            "aemo_tariff_code": "NTC6900",
        },
    )
    assert mismatched.status_code == 400
    assert b"Energex (QLD) is in QLD1, not TAS1." in mismatched.content
    assert not Site.objects.filter(name="Farm").exists()

    good = mine.client.post(
        url,
        {
            "name": "Farm",
            "aemo_region": "NSW1",
            "aemo_network": "ausgrid",
            "aemo_tariff_code": "ea025",
        },
    )
    assert good.status_code == 302
    site = Site.objects.get(name="Farm")
    assert (site.price_source, site.aemo_tariff_code, site.time_zone) == (
        "aemo",
        "EA025",
        "Australia/Sydney",
    )


def test_custom_source_only_offers_the_households_schedules(mine, theirs):
    their_schedule = custom_schedule_create(
        household=theirs.household, definition=STARTER_DEFINITION
    )
    my_schedule = custom_schedule_create(household=mine.household, definition=STARTER_DEFINITION)
    url = reverse("web:onboarding_custom")
    data = {"name": "Flat", "time_zone": "Australia/Perth"}

    refused = mine.client.post(url, {**data, "custom_schedule": their_schedule.pk})
    assert refused.status_code == 400
    assert not Site.objects.filter(name="Flat").exists()

    ok = mine.client.post(url, {**data, "custom_schedule": my_schedule.pk})
    assert ok.status_code == 302
    assert Site.objects.get(name="Flat").custom_schedule == my_schedule
    assert CustomTouSchedule.objects.count() == 2


def _teslemetry(rsps):
    rsps.get(f"{TESLEMETRY}/api/metadata", json=load("teslemetry_metadata.json"))
    rsps.get(f"{TESLEMETRY_NA}/api/1/products", json=load("teslemetry_products.json"))


def test_teslemetry_key_is_checked_stored_and_never_shown(mine, rsps):
    _teslemetry(rsps)
    site = mine.site

    response = mine.client.post(
        reverse("web:site_connect", args=[site.pk]), {"api_key": TESLEMETRY_KEY}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("web:site_energy_site", args=[site.pk])
    site.refresh_from_db()
    assert site.tesla_access == Site.TeslaAccess.TESLEMETRY
    assert site.teslemetry_region == "na"  # the code, not a URL: config changes can't go stale
    assert SiteCredentials.objects.get(site=site).teslemetry_api_key == TESLEMETRY_KEY
    page = mine.client.get(reverse("web:site_connect", args=[site.pk]))
    assert TESLEMETRY_KEY.encode() not in page.content
    assert b"badge ok" in page.content


def test_a_refused_teslemetry_key_is_not_stored(mine, rsps):
    rsps.get(f"{TESLEMETRY}/api/metadata", status=401, json={"error": "invalid_token"})

    response = mine.client.post(
        reverse("web:site_connect", args=[mine.site.pk]), {"api_key": "bad-key"}
    )

    assert response.status_code == 400
    assert b"Tesla refused the credentials" in response.content
    assert not SiteCredentials.objects.filter(site=mine.site, teslemetry_api_key__isnull=False)


def test_choose_the_powerwall_takes_the_time_zone_from_tesla(mine, rsps):
    _teslemetry(rsps)
    site_info = load("teslemetry_site_info.json")
    site_info["response"]["installation_time_zone"] = "Australia/Adelaide"
    rsps.get(f"{TESLEMETRY_NA}/api/1/energy_sites/123456/site_info", json=site_info)
    site = mine.site
    mine.client.post(reverse("web:site_connect", args=[site.pk]), {"api_key": TESLEMETRY_KEY})
    url = reverse("web:site_energy_site", args=[site.pk])

    page = mine.client.get(url)
    assert page.status_code == 200
    assert b"123456" in page.content
    assert b"98765" not in page.content  # no battery: not offered

    chosen = mine.client.post(url, {"energy_site_id": "123456"})
    assert chosen.status_code == 302
    site.refresh_from_db()
    assert (site.tesla_energy_site_id, site.time_zone) == ("123456", "Australia/Adelaide")


def test_finish_turns_sync_on_and_asks_for_a_first_reconcile(
    mine, sent_tasks, django_capture_on_commit_callbacks
):
    SiteCredentials.objects.create(site=mine.site, amber_token="t", teslemetry_api_key="k")
    mine.site.tou_sync_enabled = False
    mine.site.save()

    with django_capture_on_commit_callbacks(execute=True):
        response = mine.client.post(reverse("web:site_finish", args=[mine.site.pk]))

    assert response.status_code == 302
    mine.site.refresh_from_db()
    assert mine.site.tou_sync_enabled is True
    assert sent_tasks.calls == [("tasks.reconcile.site", [mine.site.pk], {"queue": "sync"})]


def test_connect_tesla_oauth_checks_state_and_stores_tokens(mine, rsps, settings):
    settings.TESLA_CLIENT_ID = "client-id"
    settings.TESLA_CLIENT_SECRET = "client-secret"
    settings.TESLA_REDIRECT_URI = "https://powersync.test/onboarding/tesla/callback"
    settings.TESLA_AUTHORIZE_URL = "https://auth.test/oauth2/v3/authorize"
    settings.TESLA_TOKEN_URL = "https://auth.test/oauth2/v3/token"
    site = mine.site

    start = mine.client.post(reverse("web:tesla_oauth_begin", args=[site.pk]))
    assert start.status_code == 302
    query = parse_qs(urlsplit(start["Location"]).query)
    state = query["state"][0]
    assert query["client_id"] == ["client-id"]
    assert query["code_challenge_method"] == ["S256"]

    callback = reverse("web:tesla_oauth_callback")
    wrong = mine.client.get(callback, {"code": "abc", "state": "forged"})
    assert wrong.status_code == 400
    assert not SiteCredentials.objects.filter(site=site, tesla_access_token__isnull=False)

    mine.client.post(reverse("web:tesla_oauth_begin", args=[site.pk]))
    state = parse_qs(
        urlsplit(
            mine.client.post(reverse("web:tesla_oauth_begin", args=[site.pk]))["Location"]
        ).query
    )["state"][0]
    rsps.post(
        "https://auth.test/oauth2/v3/token",
        json={
            "access_token": "access-xyz",
            "refresh_token": "refresh-xyz",
            "expires_in": 28800,
            "token_type": "Bearer",
            "scope": "openid offline_access energy_device_data energy_cmds",
        },
    )
    ok = mine.client.get(callback, {"code": "abc", "state": state})
    assert ok.status_code == 302
    assert ok["Location"] == reverse("web:site_energy_site", args=[site.pk])
    credentials = SiteCredentials.objects.get(site=site)
    assert (credentials.tesla_access_token, credentials.tesla_refresh_token) == (
        "access-xyz",
        "refresh-xyz",
    )
    site.refresh_from_db()
    assert site.tesla_access == Site.TeslaAccess.FLEET


def test_onboarding_pages_of_another_households_site_are_404(mine, theirs):
    for name in ("web:site_connect", "web:site_energy_site", "web:site_finish"):
        assert mine.client.get(reverse(name, args=[theirs.site.pk])).status_code == 404
    response = mine.client.post(
        reverse("web:site_connect", args=[theirs.site.pk]), {"api_key": "x"}
    )
    assert response.status_code == 404
    assert not SiteCredentials.objects.filter(site=theirs.site).exists()
    assert mine.client.post(reverse("web:site_finish", args=[theirs.site.pk])).status_code == 404
