"""What a new site starts with."""

from __future__ import annotations

import pytest

from devices.models import Site
from devices.services import site_create
from tests.factories import HouseholdFactory


def new_amber_site() -> Site:
    return site_create(
        household=HouseholdFactory.create(),
        name="Home",
        price_source=Site.PriceSource.AMBER,
        amber_site_id="01J0000000000000000000AMBER",
    )


@pytest.mark.django_db
def test_a_new_site_uses_specs_default_forecast():
    assert new_amber_site().forecast_type == Site.ForecastType.PREDICTED


@pytest.mark.django_db
def test_an_operator_can_start_new_sites_on_another_forecast(settings):
    settings.DEFAULT_FORECAST_TYPE = "calibrated"
    site = new_amber_site()
    site.refresh_from_db()
    assert site.forecast_type == Site.ForecastType.CALIBRATED
    # Existing sites keep what they have; only new ones start with the operator's choice.
    settings.DEFAULT_FORECAST_TYPE = "predicted"
    site.refresh_from_db()
    assert site.forecast_type == Site.ForecastType.CALIBRATED
