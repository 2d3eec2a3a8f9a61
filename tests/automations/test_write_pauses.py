"""The operator's kill switch: fleet, region and site pauses hold every Tesla write; paused sites
keep computing and log once what they would do; resuming reconciles them. Reached through the
admin, manage.py and the staff-only API."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from automations import dispatch, pauses
from automations.curtailment import CurtailmentCheck
from automations.models import AutomationState, WritePause
from automations.pauses import covering_pause, sites_covered
from automations.reconcile import Outcome, site_reconcile
from automations.routine import SyncOutcome
from automations.selectors import site_control
from devices.clients import tesla_client_for
from devices.models import Site
from households.models import Event
from tests.automations.conftest import FROZEN_NOW, site_sync, tesla_history
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

COSTS = Decimal("4.2")


def writes_since(upstream, site: Site, seq: int) -> list[dict[str, Any]]:
    return [w for w in tesla_history(upstream, site) if w["seq"] > seq]


def last_seq(upstream, site: Site) -> int:
    return max((w["seq"] for w in tesla_history(upstream, site)), default=0)


def curtail_now(site: Site, minutes: float = 0) -> None:
    now = FROZEN_NOW + dt.timedelta(minutes=minutes)
    site_reconcile(site_id=site.pk, check=CurtailmentCheck(feed_in_c_per_kwh=COSTS), now=now)


@pytest.mark.integration
def test_a_paused_site_computes_logs_once_and_sends_nothing_until_resumed(
    upstream, linked_site, sent_tasks, django_capture_on_commit_callbacks
):
    Site.objects.filter(pk=linked_site.pk).update(curtailment_enabled=True, tou_sync_enabled=False)
    linked_site.refresh_from_db()
    # The simulated Powerwall keeps what earlier tests left: the household's own rule, again.
    tesla_client_for(linked_site).set_grid_import_export(
        int(linked_site.tesla_energy_site_id), export_rule="battery_ok"
    )
    seq = last_seq(upstream, linked_site)
    pause = pauses.writes_pause(scope="fleet", reason="Tesla API incident")

    curtail_now(linked_site)
    curtail_now(linked_site, minutes=1)  # the next minute's check: nothing new to log
    assert writes_since(upstream, linked_site, seq) == []
    state = AutomationState.objects.get(site=linked_site)
    assert (state.last_reconcile_outcome, state.in_step) == (Outcome.PAUSED, False)
    logged = Event.objects.filter(site=linked_site, intent="operator_hold")
    assert logged.count() == 1
    assert "Tesla API incident" in logged.get().reason
    assert "set the export rule to never (solar curtailment)" in logged.get().reason
    picture = site_control(site=linked_site, now=FROZEN_NOW)
    assert picture.headline == "Paused by the operator: Tesla API incident"

    with django_capture_on_commit_callbacks(execute=True):
        queued = pauses.writes_resume(pause=pause)
    assert queued >= 1
    assert (dispatch.RECONCILE_TASK, [linked_site.pk], {"queue": "sync"}) in sent_tasks.calls
    site_reconcile(site_id=linked_site.pk, now=FROZEN_NOW + dt.timedelta(minutes=2))
    sent = writes_since(upstream, linked_site, seq)
    assert [w["body"]["customer_preferred_export_rule"] for w in sent] == ["never"]
    assert AutomationState.objects.get(site=linked_site).in_step


@pytest.mark.integration
def test_a_paused_sync_still_fetches_and_says_what_it_would_push(upstream, linked_site):
    seq = last_seq(upstream, linked_site)
    pauses.writes_pause(scope="site", site=linked_site, reason="Household asked us to stop")
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == (
        SyncOutcome.PAUSED
    )
    assert writes_since(upstream, linked_site, seq) == []
    event = Event.objects.get(site=linked_site, intent="operator_hold")
    assert "push the tariff (live price sync)" in event.reason
    state = AutomationState.objects.get(site=linked_site)
    assert "Household asked us to stop" in state.last_sync_detail
    assert state.last_sync_at == FROZEN_NOW  # /healthz counts a paused site as syncing


def test_a_region_pause_covers_the_regions_sites_by_region_or_time_zone():
    flow_power = SiteFactory.create(price_source="aemo", aemo_region="QLD1")
    amber_brisbane = SiteFactory.create(time_zone="Australia/Brisbane", tesla_energy_site_id="7")
    amber_sydney = SiteFactory.create(time_zone="Australia/Sydney", tesla_energy_site_id="8")
    pause = pauses.writes_pause(scope="region", region="QLD1", reason="Energex outage")
    for site, paused in ((flow_power, True), (amber_brisbane, True), (amber_sydney, False)):
        assert (covering_pause(site) == pause) is paused, site.time_zone
    assert amber_brisbane in sites_covered(pause)
    assert amber_sydney not in sites_covered(pause)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scope": "fleet", "reason": " "}, "Say why"),
        ({"scope": "region", "region": "WA1", "reason": "x"}, "Choose one of NSW1"),
        ({"scope": "site", "reason": "x"}, "Choose the site"),
        ({"scope": "galaxy", "reason": "x"}, "Choose one of fleet"),
    ],
)
def test_an_incomplete_pause_is_refused_and_nothing_is_paused(options, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match=message):
        pauses.writes_pause(**options)
    assert not WritePause.objects.exists()


def test_manage_py_pauses_lists_and_resumes(sent_tasks, django_capture_on_commit_callbacks):
    SiteFactory.create(time_zone="Australia/Brisbane", tesla_energy_site_id="7")
    out = io.StringIO()
    call_command("pause_writes", "--region", "QLD1", "--reason", "Energex outage", stdout=out)
    pause = WritePause.objects.get()
    assert out.getvalue().startswith(f"Paused Tesla writes for the QLD1 region (pause #{pause.pk})")
    assert "1 site held" in out.getvalue()
    listed = io.StringIO()
    call_command("pause_writes", "--list", stdout=listed)
    assert f"#{pause.pk} the QLD1 region" in listed.getvalue()
    with pytest.raises(CommandError, match="no site with id 999"):
        call_command("pause_writes", "--site", "999", "--reason", "x")
    with pytest.raises(CommandError, match="Say why"):
        call_command("pause_writes", "--fleet")
    with pytest.raises(CommandError, match="no pause in force with id 12345"):
        call_command("resume_writes", "--id", "12345")
    resumed = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resume_writes", "--id", str(pause.pk), stdout=resumed)
    assert "1 site queued for a reconcile" in resumed.getvalue()
    assert WritePause.objects.get().ended_at is not None
    assert len(sent_tasks.calls) == 1


def test_staff_pause_and_resume_over_the_api(sent_tasks):
    staff = User.objects.create_user("ops", password="x" * 12, is_staff=True)
    api = APIClient()
    api.force_authenticate(staff)
    bad = api.post("/api/v1/ops/write-pauses/", {"scope": "region"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"reason"}
    no_region = api.post(
        "/api/v1/ops/write-pauses/", {"scope": "region", "reason": "x"}, format="json"
    )
    assert no_region.status_code == 400
    assert "region" in no_region.json()["error"]["fields"]
    assert not WritePause.objects.exists()
    made = api.post(
        "/api/v1/ops/write-pauses/", {"scope": "fleet", "reason": "incident"}, format="json"
    )
    assert made.status_code == 201, made.json()
    assert made.json()["created_by"] == "ops"
    active = api.get("/api/v1/ops/write-pauses/?active=true").json()["results"]
    assert [p["id"] for p in active] == [made.json()["id"]]
    resumed = api.post(f"/api/v1/ops/write-pauses/{made.json()['id']}/resume/")
    assert resumed.status_code == 200
    assert resumed.json()["pause"]["ended_by"] == "ops"
    assert api.get("/api/v1/ops/write-pauses/?active=true").json()["results"] == []


def test_the_admin_adds_a_pause_and_resumes_it(client, sent_tasks):
    admin_user = User.objects.create_superuser("root", "root@example.test", "x" * 12)
    client.force_login(admin_user)
    added = client.post(
        "/admin/automations/writepause/add/",
        {"scope": "fleet", "region": "", "site": "", "reason": "Tesla incident"},
    )
    assert added.status_code == 302
    pause = WritePause.objects.get()
    assert (pause.created_by, pause.reason) == (admin_user, "Tesla incident")
    incomplete = client.post(
        "/admin/automations/writepause/add/",
        {"scope": "region", "region": "", "site": "", "reason": "x"},
    )
    assert incomplete.status_code == 200  # the form again, with the error
    assert WritePause.objects.count() == 1
    resumed = client.post(
        "/admin/automations/writepause/",
        {"action": "resume_pauses", "_selected_action": [pause.pk]},
    )
    assert resumed.status_code == 302
    pause.refresh_from_db()
    assert pause.ended_at is not None
    assert pause.ended_by == admin_user
