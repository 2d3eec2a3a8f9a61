"""The "Push to Powerwall" buttons of a saved profile and a custom plan."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
from django.urls import reverse

from households.models import Event
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.models import CustomTouSchedule, TouProfile

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[1] / "tariffs/engine/data/custom_schedule_example.json"


@pytest.fixture
def queued():
    with mock.patch("tasks.sync.push_tariff.apply_async") as apply_async:
        yield apply_async


def plan(owner) -> CustomTouSchedule:
    return CustomTouSchedule.objects.create(
        household=owner.household, name="Retailer plan", definition=json.loads(EXAMPLE.read_text())
    )


def test_plan_page_offers_the_push_and_the_push_is_queued(
    mine, queued, django_capture_on_commit_callbacks
):
    schedule = plan(mine)
    page = mine.client.get(reverse("web:schedule_edit", args=[schedule.pk]))
    assert b"Push to Powerwall" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = mine.client.post(
            reverse("web:schedule_push", args=[schedule.pk]), {"site": mine.site.pk}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:dashboard", args=[mine.site.pk])
    (args,), _ = queued.call_args
    assert (args[0], args[2]) == (mine.site.pk, "custom")


def test_profile_push_to_another_households_site_is_404(mine, theirs, queued):
    content = json.loads(EXAMPLE.read_text())
    from tariffs.engine.custom_tou import render_custom_tariff, schedule_from_dict

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
    queued.assert_not_called()
    their_profile = mine.client.post(
        reverse("web:profile_push", args=[profile.pk + 999]), {"site": mine.site.pk}
    )
    assert their_profile.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_push_request_is_logged_before_the_push_is_queued(mine, queued):
    """Outside a transaction (as in production, no ATOMIC_REQUESTS) the queued push must not
    overtake its own "requested" event: the event log would show the push first."""
    schedule = plan(mine)
    logged_when_queued: list[bool] = []
    queued.side_effect = lambda *args, **kwargs: logged_when_queued.append(
        Event.objects.filter(site=mine.site, decision="Tariff push requested").exists()
    )
    response = mine.client.post(
        reverse("web:schedule_push", args=[schedule.pk]), {"site": mine.site.pk}
    )
    assert response.status_code == 302
    assert logged_when_queued == [True]
