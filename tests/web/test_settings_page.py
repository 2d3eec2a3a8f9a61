from __future__ import annotations

from decimal import Decimal

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from devices.models import Site
from devices.services import SITE_SETTINGS_FIELDS

pytestmark = pytest.mark.django_db


def _form_data(site: Site, **overrides):
    data = model_to_dict(site, fields=list(SITE_SETTINGS_FIELDS))
    data["export_boost_window_start"] = "17:00"
    data["export_boost_window_end"] = "21:00"
    data = {k: v for k, v in data.items() if v is not False}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_settings_page_shows_every_automation(mine):
    response = mine.client.get(reverse("web:site_settings", args=[mine.site.pk]))
    assert response.status_code == 200
    for field in SITE_SETTINGS_FIELDS:
        assert f'name="{field}"'.encode() in response.content


def test_valid_settings_are_saved(mine):
    url = reverse("web:site_settings", args=[mine.site.pk])
    data = _form_data(
        mine.site,
        spike_detection_enabled="on",
        spike_threshold_dollars_per_mwh="450",
        export_boost_enabled="on",
        export_boost_offset_c_per_kwh="5",
        export_boost_window_start="16:30",
    )
    response = mine.client.post(url, data)
    assert response.status_code == 302
    mine.site.refresh_from_db()
    assert mine.site.spike_detection_enabled is True
    assert mine.site.spike_threshold_dollars_per_mwh == Decimal("450")
    assert mine.site.export_boost_offset_c_per_kwh == Decimal("5")
    assert mine.site.export_boost_window_start.strftime("%H:%M") == "16:30"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("spike_threshold_dollars_per_mwh", "-5", b"greater than or equal to 0"),
        ("spike_threshold_dollars_per_mwh", "999999", b"less than or equal to 20000"),
        ("export_boost_offset_c_per_kwh", "abc", b"Enter a number."),
        ("export_boost_window_start", "25:99", b"Enter a valid time."),
        ("export_boost_window_end", "17:00", b"must end at a different time"),
        ("forecast_type", "psychic", b"Select a valid choice."),
        ("time_zone", "Mars/Olympus", b"Select a valid choice."),
    ],
)
def test_bad_input_is_a_400_with_the_message_next_to_the_field_and_nothing_changes(
    mine, field, value, message
):
    before = model_to_dict(Site.objects.get(pk=mine.site.pk))
    url = reverse("web:site_settings", args=[mine.site.pk])
    data = _form_data(mine.site, name="Renamed", curtailment_enabled="on", **{field: value})

    response = mine.client.post(url, data)

    assert response.status_code == 400
    assert message in response.content
    assert f'id="id_{field}_errors"'.encode() in response.content
    assert model_to_dict(Site.objects.get(pk=mine.site.pk)) == before


def test_another_households_settings_are_404_and_unchanged(mine, theirs):
    url = reverse("web:site_settings", args=[theirs.site.pk])
    assert mine.client.get(url).status_code == 404
    response = mine.client.post(url, _form_data(theirs.site, name="Hijacked"))
    assert response.status_code == 404
    theirs.site.refresh_from_db()
    assert theirs.site.name == "Home"
