from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from households.models import Event
from households.services import event_record
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def _at(event: Event, moment: dt.datetime) -> None:
    Event.objects.filter(pk=event.pk).update(created_at=moment)


@pytest.fixture
def logged(mine, theirs):
    second = SiteFactory.create(household=mine.household, name="Shed")
    now = timezone.now()
    a = event_record(
        household_id=mine.household.pk,
        site_id=mine.site.pk,
        automation="tou_sync",
        decision="Pushed tariff",
        reason="Prices changed by 4.2 c/kWh",
    )
    b = event_record(
        household_id=mine.household.pk,
        site_id=second.pk,
        automation="curtailment",
        decision="Export blocked",
        outcome="failed",
        reason='=HYPERLINK("http://evil")',
    )
    c = event_record(
        household_id=mine.household.pk, site_id=mine.site.pk, automation="spike", decision="Spike"
    )
    _at(a, now - dt.timedelta(days=10))
    _at(b, now - dt.timedelta(days=1))
    _at(c, now)
    event_record(household_id=theirs.household.pk, automation="spike", decision="THEIR EVENT")
    return mine, second


def test_event_log_lists_only_the_households_events_newest_first(logged):
    mine, _ = logged
    body = mine.client.get(reverse("web:events")).content.decode()
    assert "THEIR EVENT" not in body
    assert body.index("Spike</td>") < body.index("Export blocked") < body.index("Pushed tariff")
    assert "3 events" in body


def test_event_log_says_how_long_it_keeps_events(logged, settings):
    mine, _ = logged
    settings.EVENT_RETENTION_DAYS = 45
    body = mine.client.get(reverse("web:events")).content.decode()
    assert "3 events · the log keeps the last 45 days" in body


def test_filters_by_automation_outcome_site_and_dates(logged):
    mine, second = logged
    url = reverse("web:events")
    only = mine.client.get(url, {"automation": "curtailment"}).content.decode()
    assert "Export blocked" in only
    assert "Pushed tariff" not in only
    failed = mine.client.get(url, {"outcome": "failed"}).content.decode()
    assert "1 event" in failed
    shed = mine.client.get(url, {"site": second.pk}).content.decode()
    assert "Export blocked" in shed
    assert "Spike</td>" not in shed
    today = timezone.localdate(timezone=mine.site.zone)
    recent = mine.client.get(
        url, {"date_from": (today - dt.timedelta(days=3)).isoformat(), "date_to": today.isoformat()}
    ).content.decode()
    assert "Pushed tariff" not in recent
    assert "Export blocked" in recent


def test_bad_filters_are_a_400(logged, theirs):
    mine, _ = logged
    url = reverse("web:events")
    assert mine.client.get(url, {"site": theirs.site.pk}).status_code == 400
    assert mine.client.get(url, {"date_from": "yesterday"}).status_code == 400
    assert (
        mine.client.get(url, {"date_from": "2026-02-02", "date_to": "2026-02-01"}).status_code
        == 400
    )
    assert mine.client.get(reverse("web:events_csv"), {"outcome": "meh"}).status_code == 400


@pytest.mark.parametrize("view", ["web:events", "web:events_csv"])
@pytest.mark.parametrize(
    "query", [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}, {"date_to": "2100-01-01"}]
)
def test_dates_past_the_bounds_are_a_400_that_says_which(logged, view, query):
    mine, _ = logged
    response = mine.client.get(reverse(view), query)
    assert response.status_code == 400
    if view == "web:events":
        assert b"Choose a date between 01 Jan 2000 and 31 Dec 2099" in response.content


def test_pagination(mine):
    for index in range(60):
        event_record(
            household_id=mine.household.pk, automation="energy", decision=f"sample {index}"
        )
    first = mine.client.get(reverse("web:events")).content.decode()
    second = mine.client.get(reverse("web:events"), {"page": 2}).content.decode()
    assert "Page 1 of 2" in first
    assert "sample 59" in first
    assert "sample 0<" not in first
    assert "sample 0" in second


def test_csv_export_of_the_filtered_set(logged):
    mine, _ = logged
    response = mine.client.get(reverse("web:events_csv"), {"site": mine.site.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["decision"] for r in rows] == ["Spike", "Pushed tariff"]
    assert rows[1]["reason"] == "Prices changed by 4.2 c/kWh"
    assert rows[1]["site"] == "Home"
    assert rows[1]["time_utc"].endswith("+00:00")


def test_csv_neutralises_spreadsheet_formulas_and_never_leaks_other_households(logged):
    mine, _ = logged
    response = mine.client.get(reverse("web:events_csv"))
    text = b"".join(response.streaming_content).decode()
    assert "THEIR EVENT" not in text
    assert "'=HYPERLINK" in text


def test_each_decision_names_its_intent_on_the_page_and_in_the_csv(mine):
    event_record(
        household_id=mine.household.pk,
        site_id=mine.site.pk,
        automation="spike",
        intent="spike",
        decision="Tariff pushed and confirmed",
    )
    event_record(
        household_id=mine.household.pk,
        site_id=mine.site.pk,
        automation="household",
        intent="household",
        decision="Export rule back to yours: pv_only",
    )
    body = mine.client.get(reverse("web:events")).content.decode()
    assert "for: Spike response" in body
    assert "for: Your own settings" in body
    exported = mine.client.get(reverse("web:events_csv"))
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [row["intent"] for row in rows] == ["household", "spike"]
