"""Natural keys keep re-fetched prices from duplicating; site configuration is consistent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from devices.models import Site
from pricing.models import AemoRegionalPrice, AmberPriceInterval
from tariffs.models import TouProfile
from tests.factories import HouseholdFactory, SiteFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
END = dt.datetime(2025, 6, 28, 6, 30, tzinfo=UTC)


def interval(**overrides: object) -> AmberPriceInterval:
    values: dict[str, object] = {
        "amber_site_id": "01SITE",
        "channel": AmberPriceInterval.Channel.GENERAL,
        "start_at": END - dt.timedelta(minutes=5),
        "end_at": END,
        "duration_minutes": 5,
        "interval_type": AmberPriceInterval.IntervalType.FORECAST,
        "price_c_per_kwh": Decimal("25.5"),
        "spot_c_per_kwh": Decimal("10.1"),
        "fetched_at": END,
    }
    values.update(overrides)
    return AmberPriceInterval(**values)


def test_same_interval_twice_is_refused():
    interval().save()
    with pytest.raises(IntegrityError), transaction.atomic():
        interval(price_c_per_kwh=Decimal("30")).save()


def test_refetch_upserts_instead_of_duplicating():
    AmberPriceInterval.objects.bulk_create([interval()])
    later = interval(
        interval_type=AmberPriceInterval.IntervalType.ACTUAL, price_c_per_kwh=Decimal("27.25")
    )
    AmberPriceInterval.objects.bulk_create(
        [later],
        update_conflicts=True,
        unique_fields=["amber_site_id", "channel", "start_at", "duration_minutes"],
        update_fields=["interval_type", "price_c_per_kwh", "fetched_at"],
    )
    stored = AmberPriceInterval.objects.get()
    assert (stored.interval_type, stored.price_c_per_kwh) == ("actual", Decimal("27.25"))


def test_other_channel_or_resolution_is_a_different_interval():
    interval().save()
    interval(channel=AmberPriceInterval.Channel.FEED_IN).save()
    interval(start_at=END - dt.timedelta(minutes=30), duration_minutes=30).save()
    assert AmberPriceInterval.objects.count() == 3


def test_interval_must_end_after_it_starts():
    with pytest.raises(IntegrityError), transaction.atomic():
        interval(start_at=END).save()


def test_aemo_price_unique_per_region_interval_and_kind():
    row = {"region": "NSW1", "interval_end_at": END, "fetched_at": END}
    AemoRegionalPrice.objects.create(rrp_dollars_per_mwh=Decimal("85.1"), **row)
    AemoRegionalPrice.objects.create(rrp_dollars_per_mwh=Decimal("90"), is_forecast=True, **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        AemoRegionalPrice.objects.create(rrp_dollars_per_mwh=Decimal("1"), **row)


def test_site_defaults_follow_the_spec():
    site = SiteFactory.create()
    assert site.tou_sync_enabled is True
    assert site.forecast_type == "predicted"
    assert site.spike_threshold_dollars_per_mwh == Decimal("300")
    assert (site.export_boost_window_start, site.export_boost_window_end) == (
        dt.time(17),
        dt.time(21),
    )
    opt_in = [
        site.spike_detection_enabled,
        site.curtailment_enabled,
        site.spike_protection_enabled,
        site.export_boost_enabled,
        site.force_mode_toggle_enabled,
    ]
    assert opt_in == [False] * 5


def test_site_price_source_must_be_complete():
    with pytest.raises(IntegrityError), transaction.atomic():
        SiteFactory.create(price_source=Site.PriceSource.AMBER, amber_site_id="")
    with pytest.raises(IntegrityError), transaction.atomic():
        SiteFactory.create(price_source=Site.PriceSource.AEMO, amber_site_id="", aemo_region="")
    SiteFactory.create(price_source=Site.PriceSource.AEMO, amber_site_id="", aemo_region="QLD1")


def test_site_time_zone_is_validated():
    site = SiteFactory.build(household=HouseholdFactory.create(), time_zone="Australia/Atlantis")
    for zone in ("Australia/Atlantis", "UTC", "America/New_York"):
        site.time_zone = zone
        with pytest.raises(ValidationError, match="not an Australian time zone we know"):
            site.full_clean()
    site.time_zone = "Australia/Adelaide"
    site.full_clean()
    assert site.zone.key == "Australia/Adelaide"


def test_only_one_default_profile_per_site():
    site = SiteFactory.create()
    row = {"household": site.household, "site": site, "tariff_content": {}}
    TouProfile.objects.create(name="a", kind=TouProfile.Kind.DEFAULT, **row)
    TouProfile.objects.create(name="b", kind=TouProfile.Kind.MANUAL, **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        TouProfile.objects.create(name="c", kind=TouProfile.Kind.DEFAULT, **row)
