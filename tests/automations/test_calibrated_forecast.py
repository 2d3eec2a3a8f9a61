"""The calibrated forecast through the real sync: the price store keeps the forecasts captured for
an interval after it settles, and a calibrated site's sync learns from them (simulator, whose
prices settle near Amber's perKwh forecast, not near ``predicted``)."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest

from automations import routine as sync
from devices.models import Site
from pricing.models import AmberPriceInterval
from pricing.selectors import forecast_calibration_for
from tariffs.engine.calibration import LEAD_S
from tests.automations.conftest import FROZEN_NOW, control, site_sync

pytestmark = pytest.mark.django_db

START = FROZEN_NOW.replace(hour=14, minute=0, second=1)


def run_syncs(upstream, site: Site, *, until: dt.datetime) -> None:
    """Beat's routine: a forecast sync at each 5-minute start and a settled one 35 s later."""
    now = START
    while now < until:
        for reason, at in (("forecast", now), ("settled", now + dt.timedelta(seconds=35))):
            control(upstream, "/clock", {"now": at.isoformat(), "speed": 0})
            site_sync(site_id=site.pk, reason=reason, now=at)
        now += dt.timedelta(minutes=5)


def test_settled_rows_keep_the_forecasts_captured_ahead(upstream, linked_site):
    run_syncs(upstream, linked_site, until=START + dt.timedelta(minutes=65))
    rows = AmberPriceInterval.objects.filter(
        amber_site_id=linked_site.amber_site_id, channel="general"
    )
    settled = rows.filter(interval_type="actual", captured_predicted_c_per_kwh__isnull=False)
    assert settled.exists()  # captured as a forecast, kept when it settled
    for row in settled:
        assert row.captured_per_kwh_c_per_kwh is not None
        assert row.captured_predicted_c_per_kwh != row.captured_per_kwh_c_per_kwh
    # The settled price replaced the forecast's; the captured forecast stayed.
    assert any(row.price_c_per_kwh != row.captured_per_kwh_c_per_kwh for row in settled)
    # The last full store captured what was then at least LEAD ahead, as it was then.
    last_full = START + dt.timedelta(minutes=60)
    stored = rows.filter(fetched_at=last_full, interval_type="forecast")
    far = stored.filter(
        end_at__gte=last_full + dt.timedelta(seconds=LEAD_S),
        advanced_predicted_c_per_kwh__isnull=False,  # no advancedPrice beyond ~24 h
    )
    assert far.exists()
    for row in far:
        assert row.captured_per_kwh_c_per_kwh == row.price_c_per_kwh
        assert row.captured_predicted_c_per_kwh == row.advanced_predicted_c_per_kwh
    # A routine sync between full stores never captures.
    first = rows.filter(fetched_at=START, interval_type="forecast")
    assert first.filter(captured_predicted_c_per_kwh__isnull=False).exists()
    later = START + dt.timedelta(minutes=5)
    assert not rows.filter(fetched_at=later, captured_predicted_c_per_kwh__isnull=False).exists()


def test_a_calibrated_site_learns_that_the_simulator_settles_near_per_kwh(upstream, linked_site):
    Site.objects.filter(pk=linked_site.pk).update(forecast_type=Site.ForecastType.CALIBRATED)
    end = START + dt.timedelta(hours=2, minutes=5)
    run_syncs(upstream, linked_site, until=end)
    calibration = forecast_calibration_for(amber_site_id=linked_site.amber_site_id, now=end)
    assert calibration.samples >= 24
    assert calibration.general_weight > 0.8
    assert calibration.feed_in_weight > 0.8

    seen = []
    real = sync.amber_site_tariff

    def spy(*args, **kwargs):
        seen.append(kwargs.get("calibration"))
        return real(*args, **kwargs)

    later = end + dt.timedelta(minutes=5)
    control(upstream, "/clock", {"now": later.isoformat(), "speed": 0})
    with mock.patch.object(sync, "amber_site_tariff", spy):
        site_sync(site_id=linked_site.pk, reason="forecast", now=later)
        Site.objects.filter(pk=linked_site.pk).update(forecast_type=Site.ForecastType.PREDICTED)
        site_sync(site_id=linked_site.pk, reason="manual", now=later)
    assert seen[0] is not None
    assert seen[0].general_weight > 0.8
    assert seen[1] is None  # other forecast types never read the history


def test_the_weights_are_learned_once_per_interval_and_reused_exactly(upstream, linked_site):
    Site.objects.filter(pk=linked_site.pk).update(forecast_type=Site.ForecastType.CALIBRATED)
    start = START + dt.timedelta(hours=2, minutes=5)
    run_syncs(upstream, linked_site, until=start)
    seen = []
    real = sync.amber_site_tariff

    def spy(*args, **kwargs):
        seen.append(kwargs["calibration"])
        return real(*args, **kwargs)

    learn = mock.patch.object(sync, "forecast_calibration_for", wraps=forecast_calibration_for)
    with mock.patch.object(sync, "amber_site_tariff", spy), learn as learned:
        for reason, delay in (("forecast", 0), ("settled", 35), ("settled", 60)):
            at = start + dt.timedelta(seconds=delay)
            control(upstream, "/clock", {"now": at.isoformat(), "speed": 0})
            site_sync(site_id=linked_site.pk, reason=reason, now=at)
    assert learned.call_count == 1  # the interval's settled syncs reused the forecast sync's
    assert len({(c.general_weight, c.feed_in_weight, c.samples) for c in seen}) == 1
    assert seen[0].general_weight > 0.8
    # Reuse is exact: learning again at the last sync gives the same weights.
    fresh = forecast_calibration_for(
        amber_site_id=linked_site.amber_site_id, now=start + dt.timedelta(seconds=60)
    )
    assert (fresh.general_weight, fresh.feed_in_weight, fresh.samples) == (
        seen[-1].general_weight,
        seen[-1].feed_in_weight,
        seen[-1].samples,
    )
