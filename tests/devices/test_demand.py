"""Demand peaks: 30-minute average import inside the window, per local billing month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from devices import demand
from devices.models import DemandPeak, EnergySample, Site
from tariffs.models import CustomTouSchedule
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SYDNEY = ZoneInfo("Australia/Sydney")
FIVE_MIN = dt.timedelta(minutes=5)


def at(day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=SYDNEY)


def import_block(site: Site, start: dt.datetime, end: dt.datetime, grid_w: int) -> None:
    """Samples every 5 min from ``start`` to ``end`` inclusive, all importing ``grid_w``."""
    moment = start
    while moment <= end:
        EnergySample.objects.create(
            site=site,
            sampled_at=moment,
            solar_power_w=0,
            battery_power_w=0,
            grid_power_w=grid_w,
            load_power_w=max(grid_w, 0),
            battery_percent=Decimal("40"),
        )
        moment += FIVE_MIN


def update_day(site: Site, day: dt.date) -> None:
    demand.demand_peaks_update(
        site_id=site.pk, since=at(day, 0, 0), until=at(day + dt.timedelta(days=1), 0, 0)
    )


def peaks(site: Site) -> list[tuple[dt.date, Decimal, dt.datetime, Decimal]]:
    return [
        (p.billing_month, p.peak_kw, p.peak_at, p.estimated_charge_dollars)
        for p in DemandPeak.objects.filter(site=site).order_by("billing_month")
    ]


@pytest.fixture
def site() -> Site:
    return SiteFactory.create(time_zone="Australia/Sydney")


MONDAY = dt.date(2025, 6, 16)  # winter, AEST (+10)


def test_default_window_counts_weekdays_15_to_21_local_only(site):
    import_block(site, at(MONDAY, 14, 0), at(MONDAY, 14, 55), 5000)  # before the window
    import_block(site, at(MONDAY, 15, 0), at(MONDAY, 15, 35), 3000)  # inside
    import_block(site, at(MONDAY, 21, 0), at(MONDAY, 21, 35), 7000)  # window has closed
    saturday = MONDAY + dt.timedelta(days=5)
    import_block(site, at(saturday, 16, 0), at(saturday, 16, 35), 9000)  # weekend
    update_day(site, MONDAY)
    update_day(site, saturday)

    # No schedule: the rate is 0, the peak is still tracked.
    assert peaks(site) == [
        (dt.date(2025, 6, 1), Decimal("3.000"), at(MONDAY, 15, 0), Decimal("0.00"))
    ]


KINGS_BIRTHDAY = dt.date(2025, 6, 9)  # a Monday, a public holiday in NSW and the ACT
RECONCILIATION_DAY = dt.date(2025, 6, 2)  # a Monday, a public holiday in the ACT only


def test_public_holidays_of_the_sites_state_are_outside_the_default_window(site):
    import_block(site, at(KINGS_BIRTHDAY, 16, 0), at(KINGS_BIRTHDAY, 16, 35), 9000)
    import_block(site, at(MONDAY, 16, 0), at(MONDAY, 16, 35), 2000)  # a working Monday
    update_day(site, KINGS_BIRTHDAY)
    update_day(site, MONDAY)
    assert [(month, kw) for month, kw, *_ in peaks(site)] == [
        (dt.date(2025, 6, 1), Decimal("2.000"))
    ]


@pytest.mark.parametrize(
    ("network", "counted_kw"),
    [("evoenergy", Decimal("2.000")), ("ausgrid", Decimal("9.000"))],
)
def test_an_act_site_keeps_act_holidays_in_sydneys_time_zone(network, counted_kw):
    site = SiteFactory.create(time_zone="Australia/Sydney", aemo_network=network)
    import_block(site, at(RECONCILIATION_DAY, 16, 0), at(RECONCILIATION_DAY, 16, 35), 9000)
    import_block(site, at(MONDAY, 16, 0), at(MONDAY, 16, 35), 2000)
    update_day(site, RECONCILIATION_DAY)
    update_day(site, MONDAY)
    assert [kw for _, kw, *_ in peaks(site)] == [counted_kw]


@pytest.mark.parametrize(
    ("time_zone", "network", "state"),
    [
        ("Australia/Brisbane", "", "QLD"),
        ("Australia/Adelaide", "sapn", "SA"),
        ("Australia/Sydney", "evoenergy", "ACT"),
        ("Australia/Perth", "", "WA"),
        ("UTC", "", None),
    ],
)
def test_holiday_state(time_zone, network, state):
    site = SiteFactory.build(time_zone=time_zone, aemo_network=network)
    assert demand.holiday_state(site) == state


def test_interval_demand_is_the_average_import_over_30_minutes(site):
    # 14:55-15:10 at 0 W, then a ramp to 6000 W at 15:15, held to 15:35; exports never count.
    # Interval 15:00-15:30 in W·s: 15:00-15:10 0; 15:10-15:15 (0+6000)/2*300 = 900,000;
    # 15:15-15:30 6000*900 = 5,400,000. 6,300,000 W·s = 1.75 kWh over 0.5 h = 3.5 kW.
    import_block(site, at(MONDAY, 14, 55), at(MONDAY, 15, 10), 0)
    import_block(site, at(MONDAY, 15, 15), at(MONDAY, 15, 35), 6000)
    import_block(site, at(MONDAY, 16, 0), at(MONDAY, 16, 35), -8000)  # exporting

    update_day(site, MONDAY)

    assert peaks(site)[0][1:3] == (Decimal("3.500"), at(MONDAY, 15, 0))


def test_an_interval_counts_only_once_complete(site):
    # Samples 15:00-15:25: no reading at or after 15:30 yet, so 15:00-15:30 is not complete.
    import_block(site, at(MONDAY, 15, 0), at(MONDAY, 15, 25), 4000)
    demand.demand_after_sample(site_id=site.pk, sampled_at=at(MONDAY, 15, 25))
    assert peaks(site) == []

    import_block(site, at(MONDAY, 15, 30), at(MONDAY, 15, 30), 4000)
    demand.demand_after_sample(site_id=site.pk, sampled_at=at(MONDAY, 15, 30))
    assert peaks(site)[0][1] == Decimal("4.000")


def test_peak_only_increases(site):
    import_block(site, at(MONDAY, 15, 0), at(MONDAY, 15, 35), 3000)
    update_day(site, MONDAY)
    tuesday = MONDAY + dt.timedelta(days=1)
    import_block(site, at(tuesday, 17, 0), at(tuesday, 17, 35), 2000)  # lower: ignored
    update_day(site, tuesday)
    assert peaks(site)[0][1:3] == (Decimal("3.000"), at(MONDAY, 15, 0))

    wednesday = MONDAY + dt.timedelta(days=2)
    import_block(site, at(wednesday, 18, 0), at(wednesday, 18, 35), 4500)  # higher: replaces
    update_day(site, wednesday)
    update_day(site, MONDAY)  # recomputing an older, lower day changes nothing
    assert peaks(site)[0][1:3] == (Decimal("4.500"), at(wednesday, 18, 0))


def test_window_follows_the_local_clock_when_dst_starts(site):
    # DST starts Sunday 5 Oct 2025: Tuesday 7 Oct is AEDT (+11). (Monday 6 Oct is Labour Day
    # in NSW, outside the window.)
    tuesday = dt.date(2025, 10, 7)
    # 21:00 AEDT = 10:00 UTC (it would be 20:00, inside the window, on a fixed +10 clock).
    import_block(site, at(tuesday, 21, 0), at(tuesday, 21, 35), 6000)
    # 15:00 AEDT = 04:00 UTC (it would be 14:00, outside, on a fixed +10 clock).
    import_block(site, at(tuesday, 15, 0), at(tuesday, 15, 35), 2000)
    update_day(site, tuesday)

    assert peaks(site) == [
        (
            dt.date(2025, 10, 1),
            Decimal("2.000"),
            dt.datetime(2025, 10, 7, 4, 0, tzinfo=UTC),
            Decimal("0.00"),
        )
    ]


def test_window_follows_the_local_clock_when_dst_ends(site):
    # DST ends Sunday 6 Apr 2025: Monday 7 Apr is AEST (+10) again.
    monday = dt.date(2025, 4, 7)
    # 14:30 AEST = 04:30 UTC (15:30, inside, on the AEDT clock of the day before).
    import_block(site, at(monday, 14, 25), at(monday, 14, 55), 6000)
    # 20:30 AEST = 10:30 UTC (21:30, outside, on an AEDT clock).
    import_block(site, at(monday, 20, 30), at(monday, 21, 5), 2500)
    update_day(site, monday)

    assert peaks(site)[0][1:3] == (Decimal("2.500"), dt.datetime(2025, 4, 7, 10, 30, tzinfo=UTC))


NIGHT_DEMAND_SCHEDULE = {
    "name": "Night demand",
    "utility": "Test",
    "seasons": [
        {
            "name": "All year",
            "from": "01-01",
            "to": "12-31",
            "periods": [
                {
                    "name": "PEAK",
                    "buy_c_per_kwh": "40",
                    "demand_dollars_per_kw": "12.5",
                    "windows": [{"days": "all", "from": "00:00", "to": "02:00"}],
                },
                {
                    "name": "OFF_PEAK",
                    "buy_c_per_kwh": "20",
                    "windows": [{"days": "all", "from": "02:00", "to": "00:00"}],
                },
            ],
        }
    ],
}


def schedule_site(definition: dict, *, site_rate: str = "0") -> Site:
    site = SiteFactory.create(time_zone="Australia/Sydney")
    schedule = CustomTouSchedule.objects.create(
        household=site.household,
        name="Plan",
        definition=definition,
        demand_charge_dollars_per_kw=Decimal(site_rate),
    )
    Site.objects.filter(pk=site.pk).update(
        custom_schedule=schedule, price_source=Site.PriceSource.CUSTOM
    )
    site.refresh_from_db()
    return site


def test_billing_month_is_the_local_month_and_charge_uses_the_period_rate():
    site = schedule_site(NIGHT_DEMAND_SCHEDULE)
    june_30, july_1 = dt.date(2025, 6, 30), dt.date(2025, 7, 1)
    # 00:30 on 1 July in Sydney is 14:30 on 30 June in UTC: it belongs to July.
    import_block(site, at(july_1, 0, 25), at(july_1, 1, 5), 4200)
    import_block(site, at(june_30, 1, 0), at(june_30, 1, 35), 1000)
    import_block(site, at(june_30, 12, 0), at(june_30, 12, 35), 9000)  # outside 00:00-02:00
    update_day(site, june_30)
    update_day(site, july_1)

    assert peaks(site) == [
        (dt.date(2025, 6, 1), Decimal("1.000"), at(june_30, 1, 0), Decimal("12.50")),
        # 4.2 kW x $12.50/kW = $52.50
        (
            dt.date(2025, 7, 1),
            Decimal("4.200"),
            dt.datetime(2025, 6, 30, 14, 30, tzinfo=UTC),
            Decimal("52.50"),
        ),
    ]


def test_schedule_without_demand_periods_uses_default_window_and_schedule_rate():
    flat = {
        "name": "Flat",
        "utility": "Test",
        "seasons": [
            {
                "name": "All year",
                "from": "01-01",
                "to": "12-31",
                "periods": [
                    {
                        "name": "ANYTIME",
                        "buy_c_per_kwh": "30",
                        "windows": [{"days": "all", "from": "00:00", "to": "00:00"}],
                    }
                ],
            }
        ],
    }
    site = schedule_site(flat, site_rate="10.25")
    import_block(site, at(MONDAY, 17, 0), at(MONDAY, 17, 35), 3333)
    update_day(site, MONDAY)
    # 3.333 kW x $10.25/kW = $34.16325 -> $34.16
    assert peaks(site)[0][1:] == (Decimal("3.333"), at(MONDAY, 17, 0), Decimal("34.16"))
