"""TOU sync end to end against the simulator: fetch, build, push, read back, skip, refuse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from automations.intents import ROUTINE_WHY, intent_set
from automations.models import AutomationState, IntentKind
from automations.reconcile import Outcome, site_reconcile
from automations.routine import SyncOutcome
from devices.models import DeviceCommand, Site
from households.models import Event
from ops.locks import redis_client, redis_key
from pricing.models import AmberPriceInterval
from pricing.providers import amber
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.models import TariffPush
from tests.automations.conftest import FROZEN_NOW, control, site_sync

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_first_sync_pushes_and_confirms_by_read_back(upstream, linked_site, new_tesla_writes):
    assert (
        site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == SyncOutcome.PUSHED
    )

    push = TariffPush.objects.get(site=linked_site)
    assert push.status == TariffPush.Status.CONFIRMED
    assert push.verified_at is not None
    writes = [w for w in new_tesla_writes() if "tou_settings" in str(w)]
    assert len(writes) == 1
    sent = writes[0]["body"]["tou_settings"]["tariff_content_v2"]
    assert tariff_fingerprint(sent) == push.fingerprint
    assert len(sent["energy_charges"]["Summer"]["rates"]) == 48

    command = DeviceCommand.objects.get(site=linked_site)
    assert (command.kind, command.status) == ("tariff", "succeeded")
    assert command.payload["push_id"] == push.pk
    assert Event.objects.filter(site=linked_site, decision="Tariff pushed and confirmed").exists()
    # Price history was stored once per (channel, interval).
    stored = AmberPriceInterval.objects.filter(amber_site_id=linked_site.amber_site_id)
    assert stored.filter(channel="general").exists()
    assert stored.filter(channel="feedIn").exists()


def test_same_prices_again_do_not_push(upstream, linked_site, new_tesla_writes):
    site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW)
    writes_before = len(new_tesla_writes())
    rows_before = AmberPriceInterval.objects.count()

    assert (
        site_sync(site_id=linked_site.pk, reason="settled", now=FROZEN_NOW) == SyncOutcome.UNCHANGED
    )
    assert len(new_tesla_writes()) == writes_before
    assert TariffPush.objects.filter(site=linked_site).count() == 1
    assert AmberPriceInterval.objects.count() == rows_before  # upserted, not duplicated
    state = AutomationState.objects.get(site=linked_site)
    assert state.last_sync_outcome == SyncOutcome.UNCHANGED


def test_each_half_hour_stores_everything_and_syncs_between_store_the_newest_rows(
    upstream, linked_site
):
    half_hour_start = FROZEN_NOW.replace(minute=30, second=40)
    control(upstream, "/clock", {"now": half_hour_start.isoformat(), "speed": 0})
    site_sync(site_id=linked_site.pk, reason="forecast", now=half_hour_start)
    rows = AmberPriceInterval.objects.filter(amber_site_id=linked_site.amber_site_id)
    first = rows.filter(fetched_at=half_hour_start)
    assert first.filter(interval_type="forecast").exists()
    oldest = first.filter(interval_type="actual").order_by("start_at").first()
    assert oldest is not None
    assert oldest.start_at <= half_hour_start - dt.timedelta(minutes=25)

    later = half_hour_start + dt.timedelta(minutes=5)
    control(upstream, "/clock", {"now": later.isoformat(), "speed": 0})
    site_sync(site_id=linked_site.pk, reason="settled", now=later)
    rewritten = rows.filter(fetched_at=later)
    assert rewritten.filter(interval_type="actual").exists()  # the interval that just settled
    assert not rewritten.filter(interval_type="forecast").exists()
    assert all(row.end_at >= later - dt.timedelta(minutes=15) for row in rewritten)
    # Older rows keep what the earlier, full store wrote.
    assert rows.filter(fetched_at=half_hour_start, end_at__lt=later - dt.timedelta(minutes=15))


def test_a_sites_first_sync_in_a_half_hour_stores_forecasts_whatever_the_minute(
    upstream, linked_site
):
    """A new site (or one back from a gap) would otherwise show no forecasts until the next
    half-hour starts."""
    rows = AmberPriceInterval.objects.filter(amber_site_id=linked_site.amber_site_id)
    assert FROZEN_NOW.minute % 30 >= 5  # not the half-hour's first forecast sync
    site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW)
    assert rows.filter(fetched_at=FROZEN_NOW, interval_type="forecast").exists()

    later = FROZEN_NOW + dt.timedelta(minutes=5)  # 16:29, the same half-hour
    control(upstream, "/clock", {"now": later.isoformat(), "speed": 0})
    site_sync(site_id=linked_site.pk, reason="forecast", now=later)
    assert rows.filter(fetched_at=later).exists()
    assert not rows.filter(fetched_at=later, interval_type="forecast").exists()


def test_stale_prices_are_refused_once_and_nothing_is_pushed(
    upstream, linked_site, new_tesla_writes
):
    two_hours_later = FROZEN_NOW + dt.timedelta(hours=2)  # the simulator still serves 16:24 data
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=two_hours_later) == (
        SyncOutcome.REFUSED
    )
    assert site_sync(site_id=linked_site.pk, reason="settled", now=two_hours_later) == (
        SyncOutcome.REFUSED
    )
    assert new_tesla_writes() == []
    refused = TariffPush.objects.get(site=linked_site)
    assert refused.status == TariffPush.Status.REFUSED
    assert "stale" in refused.detail
    events = Event.objects.filter(site=linked_site, outcome=Event.Outcome.REFUSED)
    assert events.count() == 1  # recorded when it starts, not every 5 minutes


def test_amber_outage_raises_for_retry_and_pushes_nothing(upstream, linked_site, new_tesla_writes):
    control(upstream, "/scenario", {"name": "amber_outage"})
    with pytest.raises(amber.Unavailable):
        site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW)
    assert new_tesla_writes() == []
    assert not TariffPush.objects.filter(site=linked_site).exists()


def test_a_hold_owns_the_tariff_and_the_sync_says_so(upstream, linked_site, new_tesla_writes):
    site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW)
    writes = len(new_tesla_writes())
    intent_set(
        site_id=linked_site.pk,
        household_id=linked_site.household_id,
        kind=IntentKind.HOUSEHOLD_HOLD,
        why="held",
        data=hold_data(),
    )
    AutomationState.objects.filter(site=linked_site).update(
        tariff_owner=IntentKind.HOUSEHOLD_HOLD,
        held_tariff_fingerprint=hold_data()["fingerprint"],
    )
    amber_calls = control(upstream, "/stats")["requests"]["amber"]
    assert site_sync(site_id=linked_site.pk, reason="settled", now=FROZEN_NOW) == SyncOutcome.HELD
    assert len(new_tesla_writes()) == writes
    assert control(upstream, "/stats")["requests"]["amber"] == amber_calls  # no fetch at all
    state = AutomationState.objects.get(site=linked_site)
    assert "your held tariff" in state.last_sync_detail


def test_a_sync_that_meets_a_reconcile_in_flight_is_run_by_its_holder(
    upstream, linked_site, new_tesla_writes
):
    """Nothing asked for is dropped: the request is left for the holder, who runs it next."""
    lock = redis_client().lock(redis_key("lock", "site", linked_site.pk), timeout=30)
    assert lock.acquire(blocking=False)
    try:
        result = site_reconcile(site_id=linked_site.pk, routine="forecast", now=FROZEN_NOW)
        assert result.outcome == Outcome.BUSY
        assert new_tesla_writes() == []
    finally:
        lock.release()
    # The next holder, done with its own pass (which put live prices on), finds the request and
    # runs the sync too: recorded, and nothing pushed twice.
    assert redis_client().get(redis_key("reconcile-pending", linked_site.pk)) == b"forecast"
    site_reconcile(site_id=linked_site.pk, now=FROZEN_NOW)
    state = AutomationState.objects.get(site=linked_site)
    assert (state.last_sync_at, state.last_sync_outcome) == (FROZEN_NOW, SyncOutcome.UNCHANGED)
    assert len([w for w in new_tesla_writes() if w["command"] == "time_of_use_settings"]) == 1


def test_write_budget_holds_back_routine_syncs(upstream, linked_site, new_tesla_writes, settings):
    settings.TESLA_WRITES_PER_HOUR = 0
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == (
        SyncOutcome.NO_BUDGET
    )
    assert new_tesla_writes() == []
    assert Event.objects.filter(site=linked_site, outcome=Event.Outcome.SKIPPED).count() == 1
    # "Sync now" is not routine: it goes through.
    assert site_sync(site_id=linked_site.pk, reason="manual", now=FROZEN_NOW) == SyncOutcome.PUSHED


def test_a_settled_sync_is_skipped_when_a_later_sync_already_saw_those_prices(
    upstream, linked_site, new_tesla_writes
):
    site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW)
    amber_calls = control(upstream, "/stats")["requests"]["amber"]
    earlier_due = FROZEN_NOW - dt.timedelta(seconds=25)  # a backlog ran the forecast sync late
    assert site_sync(site_id=linked_site.pk, reason="settled", now=FROZEN_NOW, due=earlier_due) == (
        SyncOutcome.ALREADY_FRESH
    )
    assert control(upstream, "/stats")["requests"]["amber"] == amber_calls  # no fetch at all
    later_due = FROZEN_NOW + dt.timedelta(seconds=35)
    assert (
        site_sync(site_id=linked_site.pk, reason="settled", now=later_due, due=later_due)
        != SyncOutcome.ALREADY_FRESH
    )


def test_the_beat_fan_out_queues_forecast_now_and_settled_when_due(linked_site):
    from unittest import mock

    from tasks import sync as sync_tasks

    with (
        mock.patch.object(sync_tasks.sync_site, "apply_async") as per_site,
        mock.patch.object(sync_tasks.sync_all_settled, "apply_async") as settled_fan_out,
        mock.patch.object(sync_tasks.routine, "aemo_series_refresh", return_value=0),
    ):
        sync_tasks.sync_all()
    assert [c.args[0] for c in per_site.call_args_list] == [(linked_site.pk, "forecast")]
    assert per_site.call_args.kwargs["expires"] <= 300  # never run a stale copy late
    dues = [dt.datetime.fromisoformat(c.args[0][0]) for c in settled_fan_out.call_args_list]
    assert dues[1] - dues[0] == dt.timedelta(seconds=25)  # +35 s and +60 s
    assert [c.kwargs["eta"] for c in settled_fan_out.call_args_list] == dues

    with mock.patch.object(sync_tasks.sync_site, "apply_async") as per_site:
        sync_tasks.sync_all_settled(dues[0].isoformat())
    assert [c.args[0] for c in per_site.call_args_list] == [
        (linked_site.pk, "settled", dues[0].isoformat())
    ]


def test_database_round_trips_per_sync_stay_few(upstream, linked_site, django_assert_num_queries):
    """At thousands of sites every query counts (bench/bench_sync.py): the push path reads the
    site with its state and credentials once (live price sync alone needs no intent row), the
    operator's active pauses (usually none) once it has something to send, marks the Powerwall
    unsure before the push, then writes the push, the command, the event, and the outcome. A
    settled sync that changes nothing asks for no pause."""
    Site.objects.filter(pk=linked_site.pk).update(teslemetry_region="na")
    intent_set(
        site_id=linked_site.pk,
        household_id=linked_site.household_id,
        kind=IntentKind.ROUTINE,
        why=ROUTINE_WHY,
    )
    # Steady state: synced earlier in this half-hour. (A half-hour's first sync also stores the
    # forecasts: one more insert.)
    AutomationState.objects.filter(site=linked_site).update(
        last_sync_at=FROZEN_NOW - dt.timedelta(minutes=1)
    )
    with django_assert_num_queries(12):
        assert site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == (
            SyncOutcome.PUSHED
        )
    with django_assert_num_queries(4):
        assert site_sync(site_id=linked_site.pk, reason="settled", now=FROZEN_NOW) == (
            SyncOutcome.UNCHANGED
        )


def hold_data() -> dict:
    from tariffs.engine.model import HalfHourRates
    from tariffs.engine.tesla_format import render_half_hour_tariff

    rates = HalfHourRates((Decimal("0.3"),) * 48, (Decimal("0.05"),) * 48)
    content = render_half_hour_tariff(rates, plan_name="Winter", utility="Test")
    return {
        "name": "Winter",
        "source": "plan",
        "source_id": 1,
        "tariff": content,
        "fingerprint": tariff_fingerprint(content),
    }


def test_a_setting_the_tariff_cannot_use_is_a_refused_sync_that_names_it(
    upstream, linked_site, new_tesla_writes
):
    """A boost window saved before windows had to be on the half-hour (17:15): the sync keeps
    the last good tariff and says which setting, once; never a crash."""
    Site.objects.filter(pk=linked_site.pk).update(
        export_boost_enabled=True, export_boost_window_start=dt.time(17, 15)
    )
    for minutes in (0, 5):
        outcome = site_sync(
            site_id=linked_site.pk,
            reason="forecast",
            now=FROZEN_NOW + dt.timedelta(minutes=minutes),
        )
        assert outcome == SyncOutcome.REFUSED
    assert new_tesla_writes() == []
    refused = Event.objects.get(
        site=linked_site, decision="Kept the last good tariff: a setting cannot be used"
    )
    assert "export boost window 17:15-21:00" in refused.reason
    assert "Change it in the site's settings" in refused.reason
