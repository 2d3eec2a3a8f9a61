"""Energy samples: idempotent recording, cadence (watched or not), kWh roll-ups, retention."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from devices import energy
from devices.models import EnergyHour, EnergySample, Site
from devices.providers import tesla
from devices.providers.tesla import LiveStatus
from ops.locks import redis_client
from tasks import energy as energy_tasks
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
BRISBANE = ZoneInfo("Australia/Brisbane")  # no DST: the hand arithmetic stays readable
SYDNEY = ZoneInfo("Australia/Sydney")
NOW = dt.datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


def live(at: dt.datetime, **overrides: Any) -> LiveStatus:
    values: dict[str, Any] = {
        "timestamp": at,
        "solar_power_w": 3210.4,
        "battery_power_w": -1500.6,
        "grid_power_w": 120.5,
        "load_power_w": 1830.2,
        "battery_percent": 56.789,
        "energy_left_wh": None,
        "total_pack_energy_wh": None,
        "generator_power_w": 0.0,
        "grid_status": "Active",
        "island_status": "on_grid",
        "storm_mode_active": False,
        "backup_capable": True,
    }
    values.update(overrides)
    return LiveStatus(**values)


class StubClient:
    def __init__(self, status: LiveStatus) -> None:
        self.status = status
        self.calls: list[int] = []

    def live_status(self, energy_site_id: int) -> LiveStatus:
        self.calls.append(energy_site_id)
        return self.status


@pytest.fixture
def stub_tesla(monkeypatch):
    def install(status: LiveStatus) -> StubClient:
        client = StubClient(status)
        monkeypatch.setattr(energy, "tesla_client_for", lambda site: client)
        return client

    return install


def put(
    site: Site,
    at: dt.datetime,
    *,
    solar_w: int = 0,
    battery_w: int = 0,
    grid_w: int = 0,
    load_w: int = 0,
) -> EnergySample:
    return EnergySample.objects.create(
        site=site,
        sampled_at=at,
        solar_power_w=solar_w,
        battery_power_w=battery_w,
        grid_power_w=grid_w,
        load_power_w=load_w,
        battery_percent=Decimal("50"),
    )


# --- recording ------------------------------------------------------------------------------


def test_sample_stores_the_reading_under_teslas_timestamp(stub_tesla):
    site = SiteFactory.create()
    at = dt.datetime(2025, 6, 2, 11, 59, 58, tzinfo=dt.timezone(dt.timedelta(hours=10)))
    client = stub_tesla(live(at))

    recorded = energy.energy_sample_record(site_id=site.pk, now=NOW)

    assert recorded is not None
    assert recorded.created
    assert client.calls == [int(site.tesla_energy_site_id)]
    row = EnergySample.objects.get(site=site)
    assert row.sampled_at == dt.datetime(2025, 6, 2, 1, 59, 58, tzinfo=UTC)
    assert (row.solar_power_w, row.battery_power_w, row.grid_power_w, row.load_power_w) == (
        3210,
        -1501,
        120,
        1830,
    )
    assert row.battery_percent == Decimal("56.79")


def test_same_tesla_timestamp_twice_stores_one_row(stub_tesla):
    site = SiteFactory.create()
    stub_tesla(live(NOW))
    first = energy.energy_sample_record(site_id=site.pk, now=NOW)
    second = energy.energy_sample_record(site_id=site.pk, now=NOW + dt.timedelta(seconds=30))

    assert first is not None
    assert first.created
    assert second is not None
    assert not second.created
    assert second.sample.pk == first.sample.pk
    assert EnergySample.objects.filter(site=site).count() == 1


def test_battery_percent_falls_back_to_energy_left(stub_tesla):
    site = SiteFactory.create()
    stub_tesla(live(NOW, battery_percent=None, energy_left_wh=6750.0, total_pack_energy_wh=13500))
    energy.energy_sample_record(site_id=site.pk, now=NOW)
    assert EnergySample.objects.get(site=site).battery_percent == Decimal("50.00")


@pytest.mark.parametrize(
    "status_overrides",
    [
        {"timestamp": NOW + dt.timedelta(minutes=6)},  # clock from the future
        {"battery_percent": None},  # no battery level at all
    ],
)
def test_unusable_reading_is_not_stored(stub_tesla, status_overrides):
    site = SiteFactory.create()
    stub_tesla(live(NOW, **status_overrides))
    assert energy.energy_sample_record(site_id=site.pk, now=NOW) is None
    assert not EnergySample.objects.exists()


def test_paused_or_unlinked_sites_are_not_read(stub_tesla):
    client = stub_tesla(live(NOW))
    paused = SiteFactory.create(needs_reauthorisation=True)
    unlinked = SiteFactory.create(tesla_energy_site_id="")
    assert energy.energy_sample_record(site_id=paused.pk, now=NOW) is None
    assert energy.energy_sample_record(site_id=unlinked.pk, now=NOW) is None
    assert energy.energy_sample_record(site_id=999_999, now=NOW) is None
    assert client.calls == []


class FailingClient:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def live_status(self, energy_site_id: int) -> LiveStatus:
        raise self.error


def test_sample_task_marks_refused_credentials_and_skips_rate_limits(monkeypatch):
    refused, limited = SiteFactory.create(), SiteFactory.create()
    errors = {
        refused.pk: tesla.AuthFailed("invalid_token", http_status=401),
        limited.pk: tesla.RateLimited("slow down", retry_after_s=40),
    }
    monkeypatch.setattr(energy, "tesla_client_for", lambda site: FailingClient(errors[site.pk]))

    energy_tasks.sample_site.apply(args=(refused.pk,)).get()
    energy_tasks.sample_site.apply(args=(limited.pk,)).get()  # not retried: the next fan-out is

    refused.refresh_from_db()
    limited.refresh_from_db()
    assert refused.needs_reauthorisation
    assert not limited.needs_reauthorisation
    assert not EnergySample.objects.exists()


def test_sample_task_folds_a_new_sample_into_the_demand_peak(stub_tesla):
    site = SiteFactory.create(time_zone="Australia/Brisbane")
    # Monday 16 June 2025, 15:00-15:30 Brisbane at 4 kW import, then the reading at 15:30.
    start = dt.datetime(2025, 6, 16, 15, 0, tzinfo=BRISBANE)
    for minutes in range(0, 30, 5):
        put(site, start + dt.timedelta(minutes=minutes), grid_w=4000, load_w=4000)
    stub_tesla(live(start + dt.timedelta(minutes=30), grid_power_w=4000.0))

    energy_tasks.sample_site.apply(args=(site.pk,)).get()

    peak = site.demand_peaks.get()
    assert (peak.billing_month, peak.peak_kw, peak.peak_at) == (
        dt.date(2025, 6, 1),
        Decimal("4.000"),
        start,
    )


# --- watched flag and cadence -----------------------------------------------------------------


def test_watch_mark_expires_and_is_only_ever_extended(isolated_redis_keys):
    energy.site_watch_mark(site_id=7, seconds=120, now=NOW)
    assert energy.site_is_watched(7, now=NOW + dt.timedelta(seconds=119))
    assert not energy.site_is_watched(7, now=NOW + dt.timedelta(seconds=121))
    assert not energy.site_is_watched(8, now=NOW)

    energy.site_watch_mark(site_id=7, seconds=10, now=NOW)  # a shorter mark does not shorten
    assert energy.site_is_watched(7, now=NOW + dt.timedelta(seconds=119))
    energy.site_watch_mark(site_id=7, seconds=300, now=NOW)
    assert energy.site_is_watched(7, now=NOW + dt.timedelta(seconds=299))
    assert energy.watched_site_ids(now=NOW + dt.timedelta(seconds=200)) == {7}


def test_due_check_watched_every_30_s_others_every_5_min():
    def site_sampled(seconds_ago: int | None) -> int:
        site = SiteFactory.create()
        if seconds_ago is not None:
            put(site, NOW - dt.timedelta(seconds=seconds_ago))
        return site.pk

    watched_fresh = site_sampled(15)  # newest sample 15 s old: the 30-s slot is not over
    watched_due = site_sampled(25)  # 25 s >= 30 s - 10 s grace
    idle_fresh = site_sampled(25)
    idle_almost = site_sampled(285)
    idle_due = site_sampled(295)  # 295 s >= 300 s - 10 s grace
    never = site_sampled(None)
    paused = SiteFactory.create(needs_reauthorisation=True).pk
    unlinked = SiteFactory.create(tesla_energy_site_id="").pk

    due = energy.sites_due_for_sample(now=NOW, watched={watched_fresh, watched_due, paused})

    assert due == sorted([watched_due, idle_due, never])
    assert not {watched_fresh, idle_fresh, idle_almost, paused, unlinked} & set(due)


def test_slot_claim_once_per_interval_and_watching_gets_its_own_slot(isolated_redis_keys):
    assert energy.sample_slots_claim(site_ids=[1, 2], watched=()) == [1, 2]
    assert energy.sample_slots_claim(site_ids=[1, 2], watched=()) == []
    # Site 2 became watched: its idle slot is held, the watched one is free.
    assert energy.sample_slots_claim(site_ids=[1, 2], watched={2}) == [2]
    ttl_ms = redis_client().pttl(energy.claim_key("watched", 2))
    assert 15_000 < ttl_ms <= 20_000  # 30 s - 10 s grace
    assert 280_000 < redis_client().pttl(energy.claim_key("idle", 1)) <= 290_000


def test_sites_to_sample_fans_out_due_sites_once(isolated_redis_keys):
    watched = SiteFactory.create()
    idle = SiteFactory.create()
    put(watched, NOW - dt.timedelta(seconds=30))
    put(idle, NOW - dt.timedelta(seconds=30))
    energy.site_watch_mark(site_id=watched.pk, now=NOW)
    energy.site_watch_mark(site_id=idle.pk, seconds=60, now=NOW - dt.timedelta(minutes=5))

    assert energy.sites_to_sample(now=NOW) == [watched.pk]
    assert energy.sites_to_sample(now=NOW) == []  # claimed until the next 30-s slot
    # The expired mark was forgotten.
    assert redis_client().zscore(energy.watched_key(), str(idle.pk)) is None


# --- integration and roll-ups -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_w", "end_w", "expected_ws"),
    [
        (1000, 3000, 2000 * 10),
        (-1000, -3000, 0),
        (2000, -1000, 2000 * (10 * 2 / 3) / 2),  # zero at 2/3 of the way: triangle 2000 x 6.67 s
        (-1000, 2000, 2000 * (10 * 2 / 3) / 2),
    ],
)
def test_positive_area_splits_at_the_zero_crossing(start_w, end_w, expected_ws):
    assert energy.positive_area(start_w, end_w, 10) == pytest.approx(expected_ws)


def local(day: dt.date, hh: int, mm: int, zone: ZoneInfo = BRISBANE) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=zone)


DAY = dt.date(2025, 6, 2)


@pytest.fixture
def hand_series() -> Site:
    """Brisbane samples (W); load = solar + battery + grid at every point.

    time   solar  battery   grid  load
    10:00   3000    -1000   2000  4000
    10:10   1500      500  -1000  1000
    10:20   1500      500  -1000  1000
    10:50      0        0    600   600   <- 30 min after 10:20: a gap (> 15 min), not integrated
    11:00      0        0    600   600
    11:05      0        0   1200  1200
    """
    site = SiteFactory.create(time_zone="Australia/Brisbane")
    rows = [
        ((10, 0), 3000, -1000, 2000, 4000),
        ((10, 10), 1500, 500, -1000, 1000),
        ((10, 20), 1500, 500, -1000, 1000),
        ((10, 50), 0, 0, 600, 600),
        ((11, 0), 0, 0, 600, 600),
        ((11, 5), 0, 0, 1200, 1200),
    ]
    for (hh, mm), solar, battery, grid, load in rows:
        put(
            site,
            local(DAY, hh, mm),
            solar_w=solar,
            battery_w=battery,
            grid_w=grid,
            load_w=load,
        )
    return site


# Hour 10:00-11:00, in W·s (1 kWh = 3,600,000 W·s):
#   10:00-10:10 (600 s): solar (3000+1500)/2*600 = 1,350,000; home (4000+1000)/2*600 = 1,500,000;
#     grid +2000 -> -1000 crosses zero at 600*2000/3000 = 400 s:
#       import 2000*400/2 = 400,000, export 1000*200/2 = 100,000;
#     battery -1000 -> +500 crosses zero at 600*1000/1500 = 400 s:
#       charge 1000*400/2 = 200,000, discharge 500*200/2 = 50,000.
#   10:10-10:20 (600 s): solar 900,000; home 600,000; export 600,000; discharge 300,000.
#   10:20-10:50: gap of 30 min > 15 min, nothing.
#   10:50-11:00 (600 s): import 600*600 = 360,000; home 360,000.
# Totals: solar 2,250,000 = 0.625 kWh; home 2,460,000 = 0.68333 kWh;
#   import 760,000 = 0.21111 kWh; export 700,000 = 0.19444 kWh;
#   charge 200,000 = 0.05556 kWh; discharge 350,000 = 0.09722 kWh; covered 1,800 s.
# Hour 11:00-12:00: 11:00-11:05 (300 s) import = home = (600+1200)/2*300 = 270,000 = 0.075 kWh.
HOUR_10 = {
    "solar_kwh": 0.625,
    "home_kwh": 0.683,
    "grid_import_kwh": 0.211,
    "grid_export_kwh": 0.194,
    "battery_charge_kwh": 0.056,
    "battery_discharge_kwh": 0.097,
}
HOUR_11 = {
    "solar_kwh": 0.0,
    "home_kwh": 0.075,
    "grid_import_kwh": 0.075,
    "grid_export_kwh": 0.0,
    "battery_charge_kwh": 0.0,
    "battery_discharge_kwh": 0.0,
}


def assert_energy(totals: energy.EnergyTotals, expected: dict[str, float]) -> None:
    actual = {name: getattr(totals, name) for name in expected}
    assert actual == pytest.approx(expected, abs=0.0006)


def test_hourly_energy_by_hand_from_raw_samples(hand_series):
    hours = energy.site_energy_history(
        site=hand_series, start=local(DAY, 9, 0), end=local(DAY, 12, 0)
    )

    assert [h.start for h in hours] == [local(DAY, hh, 0) for hh in (9, 10, 11)]
    assert hours[0].covered_seconds == 0
    assert_energy(hours[1], HOUR_10)
    assert hours[1].covered_seconds == 1800
    assert_energy(hours[2], HOUR_11)
    assert hours[2].covered_seconds == 300


def test_rolled_up_hours_give_the_same_energy_and_days_sum_them(hand_series):
    stored = energy.energy_hours_rollup(site_id=hand_series.pk, now=local(DAY, 13, 0))

    assert stored == 2  # 10:00 and 11:00 have data; 12:00 is empty and gets no row
    row = EnergyHour.objects.get(site=hand_series, hour_start=local(DAY, 10, 0))
    assert (row.grid_import_kwh, row.grid_export_kwh, row.covered_seconds) == (
        Decimal("0.211"),
        Decimal("0.194"),
        1800,
    )
    # Raw samples gone, the history still answers from the hour rows.
    EnergySample.objects.filter(site=hand_series).delete()
    hours = energy.site_energy_history(
        site=hand_series, start=local(DAY, 10, 0), end=local(DAY, 12, 0)
    )
    assert_energy(hours[0], HOUR_10)
    assert_energy(hours[1], HOUR_11)

    (day,) = energy.site_energy_history(
        site=hand_series, start=local(DAY, 10, 30), end=local(DAY, 10, 45), bucket="day"
    )
    assert day.start == local(DAY, 0, 0)
    assert_energy(day, {name: HOUR_10[name] + HOUR_11[name] for name in HOUR_10})
    assert day.covered_seconds == 2100


def test_rollup_waits_for_complete_hours_and_is_idempotent(hand_series):
    # An hour is rolled up once its end is 15 min (MAX_GAP) in the past.
    assert energy.energy_hours_rollup(site_id=hand_series.pk, now=local(DAY, 11, 10)) == 0
    assert energy.energy_hours_rollup(site_id=hand_series.pk, now=local(DAY, 11, 20)) == 1
    # 10:00 recomputed (the newest stored hour, for late samples) and 11:00 added.
    assert energy.energy_hours_rollup(site_id=hand_series.pk, now=local(DAY, 12, 20)) == 2
    # Again: only the newest stored hour (11:00) is recomputed, nothing is duplicated.
    assert energy.energy_hours_rollup(site_id=hand_series.pk, now=local(DAY, 12, 20)) == 1
    assert EnergyHour.objects.filter(site=hand_series).count() == 2


def test_history_day_buckets_follow_the_local_clock_across_dst():
    site = SiteFactory.create(time_zone="Australia/Sydney")
    # DST ends on Sunday 6 April 2025 in Sydney: 03:00 AEDT becomes 02:00 AEST, a 25-hour day.
    start = local(dt.date(2025, 4, 6), 0, 0, SYDNEY)
    end = local(dt.date(2025, 4, 7), 0, 0, SYDNEY)
    hours = energy.site_energy_history(site=site, start=start, end=end)
    assert len(hours) == 25
    assert [h.start.astimezone(SYDNEY).hour for h in hours[:5]] == [0, 1, 2, 2, 3]
    days = energy.site_energy_history(site=site, start=start, end=end, bucket="day")
    assert [d.start for d in days] == [start]


def test_prune_rolls_up_then_keeps_only_the_retention(hand_series, settings):
    settings.ENERGY_RAW_RETENTION_DAYS = 35
    old_count = EnergySample.objects.count()
    recent = put(hand_series, local(DAY + dt.timedelta(days=40), 9, 0))
    now = local(DAY + dt.timedelta(days=40), 9, 1)

    assert energy.energy_samples_prune(site_id=hand_series.pk, now=now) == old_count

    assert list(EnergySample.objects.filter(site=hand_series)) == [recent]
    assert EnergyHour.objects.filter(site=hand_series).count() == 2
    hours = energy.site_energy_history(
        site=hand_series, start=local(DAY, 10, 0), end=local(DAY, 11, 0)
    )
    assert_energy(hours[0], HOUR_10)


def test_retention_setting_is_read_in_one_place(settings):
    assert energy.energy_setting("ENERGY_RAW_RETENTION_DAYS") == 35
    settings.ENERGY_RAW_RETENTION_DAYS = 7
    assert energy.energy_setting("ENERGY_RAW_RETENTION_DAYS") == 7
