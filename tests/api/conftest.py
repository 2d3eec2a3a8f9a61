from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from automations.models import AutomationState
from devices.models import DemandPeak, EnergySample, Site
from households.models import Event, Membership
from pricing.models import AemoRegionalPrice, AmberPriceInterval
from tariffs.engine.custom_tou import schedule_from_dict
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.tesla_format import render_custom_tariff
from tariffs.models import CustomTouSchedule, TariffPush, TouProfile
from tests.factories import MembershipFactory, SiteFactory

SCHEDULE_EXAMPLE = Path(__file__).resolve().parents[1] / (
    "tariffs/engine/data/custom_schedule_example.json"
)


def schedule_definition(**overrides: Any) -> dict[str, Any]:
    definition = json.loads(SCHEDULE_EXAMPLE.read_text())
    definition.update(overrides)
    return definition


def flat_definition(name: str = "Flat plan", buy_c: str = "30") -> dict[str, Any]:
    return {
        "name": name,
        "utility": "Example Energy",
        "seasons": [
            {
                "name": "All year",
                "from": "01-01",
                "to": "12-31",
                "periods": [
                    {
                        "name": "ANYTIME",
                        "buy_c_per_kwh": buy_c,
                        "sell_c_per_kwh": "5",
                        "windows": [{"days": "all", "from": "00:00", "to": "24:00"}],
                    }
                ],
            }
        ],
    }


def tariff_content(buy_c: str = "30") -> dict[str, Any]:
    return render_custom_tariff(schedule_from_dict(flat_definition(buy_c=buy_c)))


@pytest.fixture(autouse=True)
def _api_isolation(fernet_keys, settings):
    """Fresh throttle counters per test, and a credentials key (sites may store secrets)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now()


class World:
    """One household with everything the API can show, and helpers to fill it."""

    def __init__(self, membership: Membership) -> None:
        self.membership = membership
        self.user = membership.user
        self.household = membership.household
        self.site = SiteFactory.create(household=self.household, name="Home")
        AutomationState.objects.create(site=self.site)
        self.aemo_site = SiteFactory.create(
            household=self.household,
            name="Beach house",
            price_source=Site.PriceSource.AEMO,
            amber_site_id="",
            aemo_region="QLD1",
        )
        self.schedule = CustomTouSchedule.objects.create(
            household=self.household,
            name="Flat plan",
            retailer="Example Energy",
            definition=flat_definition(),
        )
        self.custom_site = SiteFactory.create(
            household=self.household,
            name="Shed",
            price_source=Site.PriceSource.CUSTOM,
            amber_site_id="",
            custom_schedule=self.schedule,
        )
        content = tariff_content()
        self.push = TariffPush.objects.create(
            site=self.site,
            tariff_content=content,
            fingerprint=tariff_fingerprint(content),
            reason=TariffPush.Reason.FORECAST,
            status=TariffPush.Status.CONFIRMED,
            pushed_at=timezone.now(),
            verified_at=timezone.now(),
        )
        self.profile = TouProfile.objects.create(
            household=self.household,
            site=self.site,
            name="Summer saver",
            tariff_content=content,
            fingerprint=tariff_fingerprint(content),
        )
        self.event = Event.objects.create(
            household=self.household,
            site=self.site,
            automation=Event.Automation.TOU_SYNC,
            decision="Pushed tariff",
            reason="prices changed",
        )
        moment = timezone.now()
        self.sample = EnergySample.objects.create(
            site=self.site,
            sampled_at=moment - dt.timedelta(minutes=1),
            solar_power_w=3200,
            battery_power_w=-1500,
            grid_power_w=100,
            load_power_w=1800,
            battery_percent=Decimal("64.50"),
        )
        self.peak = DemandPeak.objects.create(
            site=self.site,
            billing_month=moment.date().replace(day=1),
            peak_kw=Decimal("5.250"),
            peak_at=moment - dt.timedelta(days=1),
            estimated_charge_dollars=Decimal("12.34"),
        )

    def add_amber_prices(self, moment: dt.datetime) -> None:
        """A current 30-minute interval (buy 25.5, feed-in -8.0 c/kWh) and the next forecast."""
        end = moment.replace(minute=30 if moment.minute < 30 else 0, second=0, microsecond=0)
        if moment.minute >= 30:
            end += dt.timedelta(hours=1)
        for offset, kind in ((0, "current"), (30, "forecast")):
            interval_end = end + dt.timedelta(minutes=offset)
            for channel, price in (("general", "25.5"), ("feedIn", "-8.0")):
                AmberPriceInterval.objects.create(
                    amber_site_id=self.site.amber_site_id,
                    channel=channel,
                    start_at=interval_end - dt.timedelta(minutes=30),
                    end_at=interval_end,
                    duration_minutes=30,
                    interval_type=kind,
                    price_c_per_kwh=Decimal(price) + offset,
                    spot_c_per_kwh=Decimal("10"),
                    spike_status="none",
                    descriptor="neutral",
                    fetched_at=moment,
                )

    def add_aemo_price(self, moment: dt.datetime, rrp: str = "85.20") -> AemoRegionalPrice:
        end = moment.replace(second=0, microsecond=0) - dt.timedelta(minutes=moment.minute % 5)
        return AemoRegionalPrice.objects.create(
            region="QLD1",
            interval_end_at=end,
            rrp_dollars_per_mwh=Decimal(rrp),
            fetched_at=moment,
        )


@pytest.fixture
def world(db) -> World:
    return World(MembershipFactory.create())


@pytest.fixture
def other(db) -> World:
    """Another household, with the same kinds of objects: the caller must never reach them."""
    return World(MembershipFactory.create())


@pytest.fixture
def api(world: World) -> APIClient:
    api = APIClient()
    api.force_authenticate(user=world.user)
    return api


@pytest.fixture
def token_client(world: World) -> APIClient:
    token = Token.objects.create(user=world.user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


def error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]
