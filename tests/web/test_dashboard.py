from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from automations import pauses
from automations.intents import intent_set
from automations.models import AutomationState, IntentKind
from devices.models import DemandPeak, DeviceCommand, EnergySample, Site
from pricing.models import AemoRegionalPrice, AmberPriceInterval
from tariffs.engine.custom_tou import schedule_from_dict
from tariffs.engine.tesla_format import render_custom_tariff
from tariffs.models import TariffPush
from tests.factories import SiteFactory
from web.forms.tou import STARTER_DEFINITION

pytestmark = pytest.mark.django_db


def _interval(site, channel, end, price, kind="actual", spike="none", minutes=30, **fields):
    return AmberPriceInterval.objects.create(
        amber_site_id=site.amber_site_id,
        channel=channel,
        start_at=end - dt.timedelta(minutes=minutes),
        end_at=end,
        duration_minutes=minutes,
        interval_type=kind,
        price_c_per_kwh=Decimal(price),
        spot_c_per_kwh=Decimal("10"),
        spike_status=spike,
        descriptor="neutral",
        fetched_at=end,
        **fields,
    )


@pytest.fixture
def stocked(mine):
    """A site with prices (past actuals, current spike, forecasts), a push, samples, a peak."""
    site = mine.site
    now = timezone.now().replace(second=0, microsecond=0)
    end_now = now + dt.timedelta(minutes=30 - now.minute % 30)
    for hours in range(12, 0, -1):
        end = end_now - dt.timedelta(hours=hours)
        _interval(site, "general", end, "25.5")
        _interval(site, "feedIn", end, "-7.25")
    _interval(site, "general", end_now, "812.34", kind="current", spike="spike")
    _interval(site, "feedIn", end_now, "-650.1", kind="current", spike="spike")
    for hours in range(1, 6):
        _interval(site, "general", end_now + dt.timedelta(hours=hours), "30", kind="forecast")
    content = render_custom_tariff(schedule_from_dict(STARTER_DEFINITION))
    TariffPush.objects.create(
        site=site,
        tariff_content=content,
        fingerprint="abc",
        reason=TariffPush.Reason.FORECAST,
        status=TariffPush.Status.CONFIRMED,
        pushed_at=now - dt.timedelta(minutes=4),
        verified_at=now - dt.timedelta(minutes=3),
    )
    for minutes in range(0, 120, 5):
        EnergySample.objects.create(
            site=site,
            sampled_at=now - dt.timedelta(minutes=minutes),
            solar_power_w=4200,
            battery_power_w=-1500,
            grid_power_w=-900,
            load_power_w=1800,
            battery_percent=Decimal("76.5"),
        )
    DemandPeak.objects.create(
        site=site,
        billing_month=timezone.localdate(timezone=site.zone).replace(day=1),
        peak_kw=Decimal("5.432"),
        peak_at=now - dt.timedelta(days=1),
        estimated_charge_dollars=Decimal("42.10"),
    )
    AutomationState.objects.create(site=site)
    intent_set(
        site_id=site.pk,
        household_id=site.household_id,
        kind=IntentKind.SPIKE,
        why="AEMO spike: NSW1 at $5000/MWh",
        data={"calm_below_dollars_per_mwh": "270.00"},
    )
    return mine


def test_dashboard_shows_prices_tariff_power_demand_and_automations(stocked):
    response = stocked.client.get(reverse("web:dashboard", args=[stocked.site.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "812.3" in body  # buy price now, c/kWh
    assert "650.1" in body  # export earnings (Amber's feed-in sign flipped)
    assert "Spike</span>" in body
    assert "badge bad" in body
    assert 'id="price-chart"' in body
    assert "<path" in body
    assert "Confirmed" in body
    assert "PERIOD" not in body
    assert body.count("<rect") >= 96  # 48 buy + 48 sell bars
    assert "4.20" in body
    assert "charging" in body
    assert "exporting" in body
    assert "76" in body  # battery %
    assert "5.43" in body
    assert "42.10" in body
    assert "Spike active" in body
    # Who is in control, and what waits behind it.
    assert "Spike response until prices fall below $270.00/MWh" in body
    assert "Decides the tariff, the operation mode and the export rule" in body
    assert 'id="control-waiting"' in body
    assert "Live price sync from Amber Electric" in body
    assert 'id="energy-chart"' in body
    assert "live.js" in body


def test_a_calibrated_site_shows_what_its_forecast_learned(mine):
    site = mine.site
    Site.objects.filter(pk=site.pk).update(forecast_type=Site.ForecastType.CALIBRATED)
    url = reverse("web:dashboard", args=[site.pk])
    body = mine.client.get(url).content.decode()
    assert "Calibrated forecast:" in body
    assert "predicted price, unchanged" in body  # no settled history yet

    now = timezone.now()
    for k in range(1, 13):  # the last hour: settled exactly at the per-kWh forecast
        end = now - dt.timedelta(minutes=5 * k)
        for channel, per_kwh, predicted in (("general", 40, 30), ("feedIn", -20, -14)):
            _interval(
                site,
                channel,
                end,
                per_kwh,
                minutes=5,
                captured_per_kwh_c_per_kwh=Decimal(per_kwh),
                captured_predicted_c_per_kwh=Decimal(predicted),
            )
    body = mine.client.get(url).content.decode()
    assert "100&nbsp;% of the way" in body
    assert "100&nbsp;% for export" in body
    assert "(24 settled prices)" in body

    Site.objects.filter(pk=site.pk).update(forecast_type=Site.ForecastType.PREDICTED)
    assert "Calibrated forecast" not in mine.client.get(url).content.decode()


def test_dashboard_shows_how_much_of_the_tesla_write_budget_is_used(mine, settings):
    settings.TESLA_WRITES_PER_HOUR = 20
    settings.TESLA_WRITES_PER_DAY = 200
    url = reverse("web:dashboard", args=[mine.site.pk])
    assert "<strong>0</strong> of the 200 allowed (0 of 20" in mine.client.get(url).content.decode()

    now = timezone.now()
    for minutes_ago in (10, 50, 5 * 60, 6 * 60, 23 * 60, 25 * 60):
        command = DeviceCommand.objects.create(
            site=mine.site, kind=DeviceCommand.Kind.TARIFF, reason="sync"
        )
        DeviceCommand.objects.filter(pk=command.pk).update(
            created_at=now - dt.timedelta(minutes=minutes_ago)
        )
    body = mine.client.get(url).content.decode()
    # The one sent 25 hours ago has left the day's count.
    assert "<strong>5</strong> of the 200 allowed (2 of 20 in the last hour)" in body


def test_dashboard_without_data_still_renders(mine):
    response = mine.client.get(reverse("web:dashboard", args=[mine.site.pk]))
    assert response.status_code == 200
    assert b"No prices stored yet" in response.content
    assert b"No tariff has been confirmed" in response.content


def test_aemo_site_shows_the_wholesale_price_against_its_threshold(mine):
    site = SiteFactory.create(
        household=mine.household, price_source="aemo", amber_site_id="", aemo_region="SA1"
    )
    AemoRegionalPrice.objects.create(
        region="SA1",
        interval_end_at=timezone.now() - dt.timedelta(minutes=2),
        rrp_dollars_per_mwh=Decimal("450.00"),
        fetched_at=timezone.now(),
    )
    body = mine.client.get(reverse("web:dashboard", args=[site.pk])).content.decode()
    assert "450" in body
    assert "$/MWh" in body
    assert "badge bad" in body


def test_reauthorisation_banner(mine):
    mine.site.needs_reauthorisation = True
    mine.site.save()
    response = mine.client.get(reverse("web:dashboard", args=[mine.site.pk]))
    assert b'id="reauth-banner"' in response.content


def test_live_json_has_power_flows_in_kw_and_the_price(stocked):
    data = stocked.client.get(reverse("web:dashboard_live", args=[stocked.site.pk])).json()

    assert data["live"]["solar_kw"] == 4.2
    assert data["live"]["battery_direction"] == "charging"
    assert data["live"]["grid_direction"] == "exporting"
    assert data["live"]["battery_percent"] == 76.5
    assert data["price"]["buy_c_per_kwh"] == 812.34
    assert data["price"]["export_earn_c_per_kwh"] == 650.1
    assert data["price"]["is_spike"] is True
    assert data["automation"]["spike_active"] is True
    assert data["automation"]["headline"] == "Spike response until prices fall below $270.00/MWh"


def test_polling_the_live_data_marks_the_site_watched(stocked):
    from devices.energy import site_is_watched

    assert not site_is_watched(stocked.site.pk)
    stocked.client.get(reverse("web:dashboard_live", args=[stocked.site.pk]))
    assert site_is_watched(stocked.site.pk)  # energy is now sampled every 30 s


def test_another_households_dashboard_and_live_data_are_404(mine, theirs):
    assert mine.client.get(reverse("web:dashboard", args=[theirs.site.pk])).status_code == 404
    assert mine.client.get(reverse("web:dashboard_live", args=[theirs.site.pk])).status_code == 404


def test_sync_now_queues_a_sync_for_a_connected_site_only(mine, theirs, monkeypatch):
    calls = []
    monkeypatch.setattr("web.views.actions.dispatch.sync", lambda *a, **kw: calls.append((a, kw)))
    url = reverse("web:site_sync_now", args=[mine.site.pk])

    assert mine.client.post(url).status_code == 302
    assert calls == [((mine.site.pk,), {"reason": "manual"})]
    assert mine.client.get(url).status_code == 405
    assert mine.client.post(reverse("web:site_sync_now", args=[theirs.site.pk])).status_code == 404
    assert len(calls) == 1


def test_force_discharge_and_stop_are_queued_for_the_households_site_only(
    mine, theirs, monkeypatch
):
    from credentials.models import SiteCredentials

    SiteCredentials.objects.create(site=mine.site, teslemetry_api_key="k")
    started, stopped = [], []
    monkeypatch.setattr("web.views.actions.force_discharge_start", lambda **kw: started.append(kw))

    def record_stop(**kw: Any) -> bool:
        stopped.append(kw)
        return True

    monkeypatch.setattr("web.views.actions.force_discharge_stop", record_stop)
    page = mine.client.get(reverse("web:dashboard", args=[mine.site.pk]))
    assert b'id="force-discharge"' in page.content
    url = reverse("web:site_force_discharge", args=[mine.site.pk])

    assert mine.client.post(url, {"minutes": "45"}).status_code == 302
    assert mine.client.post(url, {"minutes": "50"}).status_code == 400
    assert mine.client.post(url, {"minutes": "lots"}).status_code == 400
    stop = reverse("web:site_force_discharge_stop", args=[mine.site.pk])
    assert mine.client.post(stop).status_code == 302
    theirs_url = reverse("web:site_force_discharge", args=[theirs.site.pk])
    assert mine.client.post(theirs_url, {"minutes": "30"}).status_code == 404
    theirs_stop = reverse("web:site_force_discharge_stop", args=[theirs.site.pk])
    assert mine.client.post(theirs_stop).status_code == 404

    assert [(kw["site"].pk, kw["minutes"]) for kw in started] == [(mine.site.pk, 45)]
    assert [kw["site"].pk for kw in stopped] == [mine.site.pk]


def test_price_chart_keeps_five_minute_actuals_next_to_half_hour_forecasts(mine):
    """What the sync stores (5-minute actuals and current, 5-minute forecasts for about an hour,
    then 30-minute forecasts) must chart as both lines, not the 30-minute forecasts alone."""
    from devices.selectors import site_price_history

    site = mine.site
    now = timezone.now().replace(second=0, microsecond=0)
    current_end = now + dt.timedelta(minutes=5 - now.minute % 5)

    def row(end, minutes, kind, price="20"):
        AmberPriceInterval.objects.create(
            amber_site_id=site.amber_site_id,
            channel="general",
            start_at=end - dt.timedelta(minutes=minutes),
            end_at=end,
            duration_minutes=minutes,
            interval_type=kind,
            price_c_per_kwh=Decimal(price),
            spot_c_per_kwh=Decimal("10"),
            fetched_at=now,
        )

    for back in range(6, 0, -1):
        row(current_end - dt.timedelta(minutes=5 * back), 5, "actual")
    row(current_end, 5, "current", "42")
    for ahead in range(1, 13):
        row(current_end + dt.timedelta(minutes=5 * ahead), 5, "forecast")
    half_hour = current_end + dt.timedelta(minutes=60)
    half_hour += dt.timedelta(minutes=(30 - half_hour.minute % 30) % 30)
    for ahead in range(1, 7):
        row(half_hour + dt.timedelta(minutes=30 * ahead), 30, "forecast")

    history = site_price_history(
        site=site, since=now - dt.timedelta(hours=1), until=now + dt.timedelta(hours=12)
    )
    actuals = [p for p in history.buy if not p.is_forecast]
    assert [p.value for p in actuals][-1] == Decimal("42")
    assert len(actuals) == 7
    assert sum(p.is_forecast for p in history.buy) >= 12  # the near hour and the half-hours
    page = mine.client.get(reverse("web:dashboard", args=[site.pk]))
    assert b"<title>Buy (actual)</title>" in page.content
    assert b"<title>Buy (forecast)</title>" in page.content


def test_a_pause_shows_on_the_households_dashboard(mine):
    pauses.writes_pause(scope="fleet", reason="Tesla API incident")
    page = mine.client.get(f"/sites/{mine.site.pk}/")
    body = page.content.decode()
    assert 'id="operator-pause-banner"' in body
    assert "Tesla API incident" in body
    assert "Paused by the operator" in body
    live = mine.client.get(f"/sites/{mine.site.pk}/live.json").json()
    assert live["automation"]["paused_by_operator"] == "Tesla API incident"


def test_prices_unavailable_shows_until_they_are_back(mine):
    """The reconcile records when the price source stopped answering (site-local time shown);
    the banner, the page's refresh data and the API say so until it is cleared."""
    since = dt.datetime(2026, 12, 6, 3, 5, tzinfo=dt.UTC)  # 14:05 in Sydney (AEDT)
    Site.objects.filter(pk=mine.site.pk).update(time_zone="Australia/Sydney")
    AutomationState.objects.create(site=mine.site, prices_unavailable_since=since)
    body = mine.client.get(f"/sites/{mine.site.pk}/").content.decode()
    assert 'id="prices-unavailable-banner"' in body
    assert "Prices unavailable since 14:05" in body
    live = mine.client.get(f"/sites/{mine.site.pk}/live.json").json()
    assert live["automation"]["prices_unavailable_since"] == since.isoformat()
    api = mine.client.get(f"/api/v1/sites/{mine.site.pk}/").json()
    assert api["automation_state"]["prices_unavailable_since"] == "2026-12-06T03:05:00Z"

    AutomationState.objects.filter(site=mine.site).update(prices_unavailable_since=None)
    body = mine.client.get(f"/sites/{mine.site.pk}/").content.decode()
    assert "prices-unavailable-banner" not in body
