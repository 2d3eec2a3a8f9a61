"""Energy sampling against the simulated Powerwall: exact values, one row per Tesla reading, the
watched/idle cadence of the beat fan-out, and the roll-up of real samples."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from devices import energy
from devices.clients import tesla_client_for
from devices.models import EnergySample
from tasks import energy as energy_tasks
from tests.automations.conftest import FROZEN_NOW, control

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def clock(sim, moment: dt.datetime) -> None:
    control(sim, "/clock", {"now": moment.isoformat(), "speed": 0})


def test_sample_stores_exactly_what_live_status_says(upstream, linked_site):
    expected = tesla_client_for(linked_site).live_status(int(linked_site.tesla_energy_site_id))

    recorded = energy.energy_sample_record(site_id=linked_site.pk, now=FROZEN_NOW)

    assert recorded is not None
    assert recorded.created
    row = EnergySample.objects.get(site=linked_site)
    assert row.sampled_at == expected.timestamp == FROZEN_NOW
    assert (row.solar_power_w, row.battery_power_w, row.grid_power_w, row.load_power_w) == (
        round(expected.solar_power_w),
        round(expected.battery_power_w),
        round(expected.grid_power_w),
        round(expected.load_power_w),
    )
    assert expected.battery_percent is not None
    assert row.battery_percent == Decimal(str(expected.battery_percent)).quantize(Decimal("0.01"))


def test_the_same_tesla_reading_twice_is_one_row(upstream, linked_site):
    energy_tasks.sample_site.apply(args=(linked_site.pk,))
    energy_tasks.sample_site.apply(args=(linked_site.pk,))  # duplicate delivery, same clock
    assert EnergySample.objects.filter(site=linked_site).count() == 1

    clock(upstream, FROZEN_NOW + dt.timedelta(seconds=30))
    energy_tasks.sample_site.apply(args=(linked_site.pk,))
    assert list(
        EnergySample.objects.filter(site=linked_site)
        .order_by("sampled_at")
        .values_list("sampled_at", flat=True)
    ) == [FROZEN_NOW, FROZEN_NOW + dt.timedelta(seconds=30)]


def due(now: dt.datetime) -> list[int]:
    return energy.sites_due_for_sample(now=now, watched=energy.watched_site_ids(now=now))


def test_watched_site_every_30_s_unwatched_every_5_min(
    upstream,
    linked_site,
    isolated_redis_keys,
):
    site_id = linked_site.pk
    assert due(FROZEN_NOW) == [site_id]  # never sampled
    energy.energy_sample_record(site_id=site_id, now=FROZEN_NOW)

    # Unwatched: not due 30 s later, nor 4 min 45 s later; due 5 minutes later.
    assert due(FROZEN_NOW + dt.timedelta(seconds=30)) == []
    assert due(FROZEN_NOW + dt.timedelta(seconds=285)) == []
    assert due(FROZEN_NOW + dt.timedelta(seconds=300)) == [site_id]

    # Someone opens the dashboard at 00:40 (marked for 120 s): due at the 01:00 fan-out.
    energy.site_watch_mark(site_id=site_id, now=FROZEN_NOW + dt.timedelta(seconds=40))
    at_60 = FROZEN_NOW + dt.timedelta(seconds=60)
    assert due(at_60) == [site_id]
    clock(upstream, at_60)
    energy.energy_sample_record(site_id=site_id, now=at_60)
    assert due(at_60 + dt.timedelta(seconds=15)) == []
    assert due(at_60 + dt.timedelta(seconds=30)) == [site_id]

    # The mark expired at 02:40: back to every 5 minutes after the 01:00 sample.
    assert not energy.site_is_watched(site_id, now=FROZEN_NOW + dt.timedelta(seconds=161))
    assert due(FROZEN_NOW + dt.timedelta(seconds=200)) == []
    assert due(at_60 + dt.timedelta(minutes=5)) == [site_id]


def test_fan_out_enqueues_a_due_site_once_per_slot(
    upstream,
    linked_site,
    isolated_redis_keys,
    monkeypatch,
):
    sent: list[tuple[tuple[int, ...], dict[str, object]]] = []

    def record(args: tuple[int, ...], **options: object) -> None:
        sent.append((args, options))

    monkeypatch.setattr(energy_tasks.sample_site, "apply_async", record)
    energy_tasks.sample_due.apply()  # never sampled: due now
    energy_tasks.sample_due.apply()  # its slot is held: nothing new
    assert sent == [((linked_site.pk,), {"expires": energy_tasks.SAMPLE_EXPIRES_SECONDS})]


def test_real_samples_roll_up_into_the_hour(upstream, linked_site):
    readings = []
    for seconds in (0, 30, 60):
        clock(upstream, FROZEN_NOW + dt.timedelta(seconds=seconds))
        recorded = energy.energy_sample_record(site_id=linked_site.pk, now=FROZEN_NOW)
        assert recorded is not None
        readings.append(recorded.sample)

    (hour,) = energy.site_energy_history(
        site=linked_site, start=FROZEN_NOW, end=FROZEN_NOW + dt.timedelta(minutes=1)
    )

    # Home energy by the trapezoid over the two 30-s steps, by hand from the stored rows.
    loads = [sample.load_power_w for sample in readings]
    home_ws = (loads[0] + loads[1]) / 2 * 30 + (loads[1] + loads[2]) / 2 * 30
    assert hour.home_kwh == pytest.approx(home_ws / 3_600_000)
    assert hour.covered_seconds == 60
    assert hour.start == energy.local_floor(FROZEN_NOW, linked_site.zone, minutes=60)
