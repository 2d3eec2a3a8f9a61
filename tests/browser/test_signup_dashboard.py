"""Sign up in a real browser, reach the dashboard, and keep screenshots for a human to look at.

Drives Debian's Chromium through Playwright against pytest-django's live server. The site's
prices, tariff and energy readings are stored directly (the upstream simulator is not needed to
render pages). Screenshots go to test-artifacts/ (phone 390x844 and desktop 1280x800).
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from automations.models import AutomationState
from devices.models import DemandPeak, EnergySample, Site
from households.models import Membership
from households.services import event_record
from pricing.models import AmberPriceInterval
from tariffs.engine.custom_tou import schedule_from_dict
from tariffs.engine.tesla_format import render_custom_tariff
from tariffs.models import TariffPush
from web.forms.tou import STARTER_DEFINITION

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
PASSWORD = "a-Long-and-unusual-passphrase-42"


def _stock(site: Site) -> None:
    """Prices (actuals, a current spike, forecasts), a confirmed tariff, a day of readings."""
    now = timezone.now().replace(second=0, microsecond=0)
    end_now = now + dt.timedelta(minutes=30 - now.minute % 30)

    def interval(channel: str, end: dt.datetime, price: float, kind: str, spike="none") -> None:
        AmberPriceInterval.objects.create(
            amber_site_id=site.amber_site_id,
            channel=channel,
            start_at=end - dt.timedelta(minutes=30),
            end_at=end,
            duration_minutes=30,
            interval_type=kind,
            price_c_per_kwh=Decimal(str(price)),
            spot_c_per_kwh=Decimal("10"),
            spike_status=spike,
            fetched_at=end,
        )

    for half_hours in range(-48, 25):
        end = end_now + dt.timedelta(minutes=30 * half_hours)
        hour = end.astimezone(site.zone).hour
        buy = 18 + 22 * (17 <= hour < 21) + 6 * (7 <= hour < 10) - 10 * (10 <= hour < 15)
        kind = "actual" if half_hours < 0 else "current" if half_hours == 0 else "forecast"
        interval("general", end, buy + (half_hours % 3), kind)
        interval("feedIn", end, -(buy * 0.4) + 8 * (11 <= hour < 14), kind)
    TariffPush.objects.create(
        site=site,
        tariff_content=render_custom_tariff(schedule_from_dict(STARTER_DEFINITION)),
        fingerprint="demo",
        reason=TariffPush.Reason.FORECAST,
        status=TariffPush.Status.CONFIRMED,
        pushed_at=now - dt.timedelta(minutes=4),
        verified_at=now - dt.timedelta(minutes=3),
    )
    for minutes in range(0, 24 * 60, 10):
        moment = now - dt.timedelta(minutes=minutes)
        hour = moment.astimezone(site.zone).hour
        solar = max(0, int(5200 * (1 - abs(hour - 12.5) / 6.5)))
        load = 700 + 1800 * (17 <= hour < 22)
        battery = load - solar if solar < load else -min(solar - load, 3000)
        EnergySample.objects.create(
            site=site,
            sampled_at=moment,
            solar_power_w=solar,
            battery_power_w=battery,
            grid_power_w=load - solar - battery,
            load_power_w=load,
            battery_percent=Decimal("68.4"),
        )
    DemandPeak.objects.create(
        site=site,
        billing_month=timezone.localdate(timezone=site.zone).replace(day=1),
        peak_kw=Decimal("4.821"),
        peak_at=now - dt.timedelta(days=2),
        estimated_charge_dollars=Decimal("18.40"),
    )
    AutomationState.objects.create(site=site)
    event_record(
        household_id=site.household_id,
        site_id=site.pk,
        automation="tou_sync",
        decision="Pushed a new tariff",
        reason="The 18:00 forecast rose by 6.1 c/kWh",
    )


@pytest.fixture
def browser():
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # ORM + Playwright's loop
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def test_sign_up_and_reach_the_dashboard(live_server, browser, fernet_keys):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport=VIEWPORTS["phone"])
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("#id_username", "grace")
    page.fill("#id_email", "grace@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.fill("#id_household_name", "Hopper home")
    page.click("button[type=submit]")
    page.wait_for_url("**/onboarding/")
    assert page.get_by_role("heading", name="Connect your home").is_visible()
    page.screenshot(path=str(ARTIFACTS / "onboarding-phone.png"), full_page=True)

    household = Membership.objects.get(user__username="grace").household
    site = Site.objects.create(
        household=household,
        name="Hopper home",
        amber_site_id="01DEMOAMBERSITE",
        tesla_energy_site_id="123456",
        time_zone="Australia/Brisbane",
    )
    _stock(site)

    for name, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        page.goto(f"{live_server.url}/sites/{site.pk}/")
        assert page.locator("#price-chart").is_visible()
        assert page.get_by_role("heading", name="Tariff on your Powerwall").is_visible()
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
        for path, shot in (
            (f"/sites/{site.pk}/settings/", "settings"),
            ("/tou/new/", "tou-builder"),
            ("/events/", "events"),
        ):
            page.goto(f"{live_server.url}{path}")
            page.screenshot(path=str(ARTIFACTS / f"{shot}-{name}.png"), full_page=True)
    # No page overflows the phone's width.
    page.set_viewport_size(VIEWPORTS["phone"])
    for path in (f"/sites/{site.pk}/", f"/sites/{site.pk}/settings/", "/tou/new/", "/events/"):
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS["phone"]["width"], path
