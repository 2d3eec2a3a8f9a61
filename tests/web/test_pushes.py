"""The "Push to Powerwall" buttons of a saved profile and a custom plan."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.urls import reverse

from automations import dispatch
from automations.models import IntentKind, SiteIntent
from households.models import Event
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.models import CustomTouSchedule, TouProfile

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[1] / "tariffs/engine/data/custom_schedule_example.json"


def hold_of(site) -> SiteIntent | None:
    return SiteIntent.objects.filter(site=site, kind=IntentKind.HOUSEHOLD_HOLD, active=True).first()


def plan(owner) -> CustomTouSchedule:
    return CustomTouSchedule.objects.create(
        household=owner.household, name="Retailer plan", definition=json.loads(EXAMPLE.read_text())
    )


def test_plan_page_offers_the_hold_and_the_hold_is_set(
    mine, sent_tasks, django_capture_on_commit_callbacks
):
    schedule = plan(mine)
    page = mine.client.get(reverse("web:schedule_edit", args=[schedule.pk]))
    assert b"Put it on the Powerwall" in page.content
    assert b"until I resume price sync" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = mine.client.post(
            reverse("web:schedule_push", args=[schedule.pk]), {"site": mine.site.pk, "hours": "3"}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:dashboard", args=[mine.site.pk])
    hold = hold_of(mine.site)
    assert hold is not None
    assert (hold.data["source"], hold.data["source_id"]) == ("plan", schedule.pk)
    assert hold.until is not None
    assert hold.since is not None
    assert (hold.until - hold.since) == dt.timedelta(hours=3)
    assert sent_tasks.names() == [dispatch.RECONCILE_TASK, dispatch.RECONCILE_TASK]


@pytest.mark.parametrize(
    ("site", "hours"), [("²", ""), ("9" * 5000, ""), ("", ""), ("{site}", "5"), ("{site}", "x")]
)
def test_a_bad_site_or_hours_is_refused_with_a_message_and_holds_nothing(mine, site, hours):
    schedule = plan(mine)
    response = mine.client.post(
        reverse("web:schedule_push", args=[schedule.pk]),
        {"site": site.format(site=mine.site.pk), "hours": hours},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Choose" in response.content
    assert hold_of(mine.site) is None


def test_profile_push_to_another_households_site_is_404(mine, theirs):
    content = json.loads(EXAMPLE.read_text())
    from tariffs.engine.custom_tou import schedule_from_dict
    from tariffs.engine.tesla_format import render_custom_tariff

    tariff = render_custom_tariff(schedule_from_dict(content))
    profile = TouProfile.objects.create(
        household=mine.household,
        site=mine.site,
        name="Saved",
        tariff_content=tariff,
        fingerprint=tariff_fingerprint(tariff),
    )
    response = mine.client.post(
        reverse("web:profile_push", args=[profile.pk]), {"site": theirs.site.pk}
    )
    assert response.status_code == 404
    assert hold_of(theirs.site) is None
    their_profile = mine.client.post(
        reverse("web:profile_push", args=[profile.pk + 999]), {"site": mine.site.pk}
    )
    assert their_profile.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_hold_is_logged_before_its_reconcile_is_queued(mine, sent_tasks):
    """Outside a transaction (as in production, no ATOMIC_REQUESTS) the queued reconcile must
    not overtake the hold's own event: the event log would show the push first."""
    schedule = plan(mine)
    logged_when_queued: list[bool] = []
    sent_tasks._send_task.side_effect = lambda *args, **kwargs: logged_when_queued.append(
        Event.objects.filter(site=mine.site, intent="household_hold").exists()
    )
    response = mine.client.post(
        reverse("web:schedule_push", args=[schedule.pk]), {"site": mine.site.pk}
    )
    assert response.status_code == 302
    assert logged_when_queued == [True]
