"""History retention (ops.retention): what is pruned, what always stays, and the daily fan-out."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any, TypeVar
from unittest import mock

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db.models import Model
from django.utils import timezone

from automations.models import AutomationState
from devices.models import DeviceCommand, Site
from households.models import Event
from ops import retention
from ops.management.commands import prune_history
from pricing.models import AemoRegionalPrice, AmberPriceInterval
from tariffs.models import TariffPush, TouProfile
from tasks import ops as ops_tasks
from tasks.schedule import beat_schedule
from tests.factories import HouseholdFactory, SiteFactory
from tests.foundation.test_settings import load_settings

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 4, 4, 0, tzinfo=dt.UTC)
Reason, Status = TariffPush.Reason, TariffPush.Status


@pytest.fixture(autouse=True)
def retention_days(settings):
    settings.TARIFF_PUSH_RETENTION_DAYS = 30
    settings.DEVICE_COMMAND_RETENTION_DAYS = 90
    settings.EVENT_RETENTION_DAYS = 180
    settings.PRICE_RETENTION_DAYS = 35


RowT = TypeVar("RowT", bound=Model)


def aged(row: RowT, days: float) -> RowT:
    """``row`` as if written ``days`` before NOW (``created_at`` is auto_now_add: an update)."""
    type(row)._default_manager.filter(pk=row.pk).update(created_at=NOW - dt.timedelta(days=days))
    return row


def push(site: Site, days: float, reason: str = Reason.FORECAST, status: str = Status.CONFIRMED):
    row = TariffPush.objects.create(
        site=site, tariff_content={}, fingerprint=f"{reason}-{days}", reason=reason, status=status
    )
    return aged(row, days)


def backup(site: Site, days: float, kind: str = TouProfile.Kind.PRE_SPIKE) -> TouProfile:
    row = TouProfile.objects.create(
        household_id=site.household_id, site=site, name="b", kind=kind, tariff_content={}
    )
    return aged(row, days)


def price(amber_site_id: str, days: float) -> AmberPriceInterval:
    end = NOW - dt.timedelta(days=days)
    return AmberPriceInterval.objects.create(
        amber_site_id=amber_site_id,
        channel=AmberPriceInterval.Channel.GENERAL,
        start_at=end - dt.timedelta(minutes=5),
        end_at=end,
        duration_minutes=5,
        interval_type=AmberPriceInterval.IntervalType.ACTUAL,
        price_c_per_kwh=Decimal("20"),
        spot_c_per_kwh=Decimal("8"),
        fetched_at=end,
    )


def ids(queryset: Any) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def prune(site: Site) -> retention.Pruned:
    return retention.household_history_prune(household_id=site.household_id, now=NOW)


def test_each_kind_of_history_is_pruned_past_its_own_retention():
    site = SiteFactory.create()
    kept_push = push(site, 29)
    push(site, 31, status=Status.FAILED)
    push(site, 40)  # confirmed, but not the newest confirmed one
    kept_command = aged(DeviceCommand.objects.create(site=site, kind="tariff", reason="r"), 89)
    aged(DeviceCommand.objects.create(site=site, kind="tariff", reason="r"), 91)
    kept_event = aged(Event.objects.create(household_id=site.household_id, decision="d"), 179)
    aged(Event.objects.create(household_id=site.household_id, decision="d"), 181)
    aged(Event.objects.create(household_id=site.household_id, site=site, decision="d"), 200)
    kept_price = price(site.amber_site_id, 34)
    price(site.amber_site_id, 36)

    pruned = prune(site)

    assert pruned == retention.Pruned(
        tariff_pushes=2, tariff_backups=0, device_commands=1, events=2, amber_prices=1
    )
    assert pruned.total == 6
    assert ids(TariffPush.objects.all()) == {kept_push.pk}
    assert ids(DeviceCommand.objects.all()) == {kept_command.pk}
    assert ids(Event.objects.all()) == {kept_event.pk}
    assert ids(AmberPriceInterval.objects.all()) == {kept_price.pk}


def test_the_newest_confirmed_push_and_newest_routine_one_stay_whatever_their_age():
    site = SiteFactory.create()
    push(site, 60)
    routine = push(site, 50, reason=Reason.SETTLED)
    spike = push(site, 45, reason=Reason.SPIKE)
    push(site, 40, reason=Reason.SPIKE, status=Status.FAILED)

    assert prune(site).tariff_pushes == 2

    assert ids(TariffPush.objects.all()) == {routine.pk, spike.pk}
    # The next sync still compares with what the battery holds: the spike tariff.
    newest = TariffPush.objects.filter(site=site, status=Status.CONFIRMED).order_by("-created_at")
    assert newest.values_list("fingerprint", flat=True).first() == "spike-45"


def test_tariff_backups_in_use_and_the_newest_of_each_kind_stay():
    site = SiteFactory.create()
    in_use = backup(site, 100)
    AutomationState.objects.create(site=site, tariff_backup=in_use)
    backup(site, 60)  # an older spike backup
    newest_spike_backup = backup(site, 50)
    newest_discharge_backup = backup(site, 70, kind=TouProfile.Kind.PRE_DISCHARGE)
    households_own = backup(site, 400, kind=TouProfile.Kind.MANUAL)

    assert prune(site).tariff_backups == 1

    assert ids(TouProfile.objects.all()) == {
        in_use.pk,
        newest_spike_backup.pk,
        newest_discharge_backup.pk,
        households_own.pk,
    }
    assert AutomationState.objects.get(site=site).tariff_backup_id == in_use.pk


def test_another_households_history_is_untouched():
    site, other = SiteFactory.create(), SiteFactory.create()
    theirs = [push(other, 31, status=Status.FAILED), push(other, 40)]
    their_command = aged(DeviceCommand.objects.create(site=other, kind="tariff", reason="r"), 100)
    their_event = aged(Event.objects.create(household_id=other.household_id, decision="d"), 200)
    their_price = price(other.amber_site_id, 40)

    assert prune(site) == retention.Pruned()

    assert ids(TariffPush.objects.all()) == {row.pk for row in theirs}
    assert ids(DeviceCommand.objects.all()) == {their_command.pk}
    assert ids(Event.objects.all()) == {their_event.pk}
    assert ids(AmberPriceInterval.objects.all()) == {their_price.pk}


def test_a_household_without_sites_still_has_its_event_log_pruned():
    household = HouseholdFactory.create()
    aged(Event.objects.create(household=household, decision="d"), 181)
    recent = Event.objects.create(household=household, decision="d")

    pruned = retention.household_history_prune(household_id=household.pk, now=NOW)

    assert pruned == retention.Pruned(events=1)
    assert ids(Event.objects.all()) == {recent.pk}


def test_aemo_prices_are_pruned_once_for_every_region():
    def aemo(region: str, days: float) -> AemoRegionalPrice:
        end = NOW - dt.timedelta(days=days)
        return AemoRegionalPrice.objects.create(
            region=region, interval_end_at=end, rrp_dollars_per_mwh=Decimal("90"), fetched_at=end
        )

    kept = [aemo("NSW1", 34), aemo("VIC1", 1)]
    aemo("NSW1", 36)
    aemo("QLD1", 100)

    assert retention.aemo_prices_prune(now=NOW) == 2
    assert ids(AemoRegionalPrice.objects.all()) == {row.pk for row in kept}


def test_expired_login_sessions_are_cleared():
    def session(expires_in: dt.timedelta) -> str:
        store = SessionStore()
        store["k"] = "v"
        store.create()
        Session.objects.filter(pk=store.session_key).update(expire_date=timezone.now() + expires_in)
        return str(store.session_key)

    session(-dt.timedelta(minutes=1))
    live = session(dt.timedelta(days=1))

    retention.expired_sessions_clear()

    assert list(Session.objects.values_list("pk", flat=True)) == [live]


def test_daily_task_prunes_aemo_and_sessions_then_queues_one_task_per_household():
    households = HouseholdFactory.create_batch(3)
    with (
        mock.patch.object(ops_tasks.retention, "aemo_prices_prune") as aemo,
        mock.patch.object(ops_tasks.retention, "expired_sessions_clear") as sessions,
        mock.patch.object(ops_tasks.prune_household_history, "apply_async") as queued,
    ):
        ops_tasks.prune_history()

    aemo.assert_called_once_with()
    sessions.assert_called_once_with()
    assert [c.args[0] for c in queued.call_args_list] == [(h.pk,) for h in households]
    assert all(c.kwargs["expires"] == ops_tasks.PRUNE_EXPIRES_SECONDS for c in queued.mock_calls)
    entry = beat_schedule(heartbeat_seconds=30)["ops.prune-history"]
    assert entry["task"] == ops_tasks.prune_history.name


def test_household_task_prunes_with_the_configured_days(settings):
    site = SiteFactory.create()
    settings.DEVICE_COMMAND_RETENTION_DAYS = 2
    aged(DeviceCommand.objects.create(site=site, kind="tariff", reason="r"), 3)
    recent = DeviceCommand.objects.create(site=site, kind="tariff", reason="r")

    ops_tasks.prune_household_history(site.household_id)

    assert ids(DeviceCommand.objects.all()) == {recent.pk}


@pytest.mark.parametrize(
    ("name", "minimum"),
    [
        ("TARIFF_PUSH_RETENTION_DAYS", 1),
        ("DEVICE_COMMAND_RETENTION_DAYS", 2),
        ("EVENT_RETENTION_DAYS", 1),
        ("PRICE_RETENTION_DAYS", 2),
    ],
)
def test_a_retention_below_its_minimum_is_refused_at_start_up(name, minimum):
    environ = {"DJANGO_ENV": "development", "DATABASE_URL": ""}
    refused = load_settings(**environ, **{name: str(minimum - 1)})
    assert refused.returncode != 0
    assert f"{name} must be at least {minimum}, got {minimum - 1}" in refused.stderr
    accepted = load_settings(f"print(s.{name})", **environ, **{name: str(minimum)})
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.strip() == str(minimum)


def test_prune_history_command_prunes_now_with_progress_and_totals(monkeypatch):
    site = SiteFactory.create()
    others = HouseholdFactory.create_batch(2)
    aged(Event.objects.create(household_id=site.household_id, decision="d"), 400)
    aged(DeviceCommand.objects.create(site=site, kind="tariff", reason="r"), 400)
    monkeypatch.setattr(prune_history, "PROGRESS_EVERY", 2)
    out = io.StringIO()

    call_command("prune_history", stdout=out)

    assert Event.objects.count() == 0
    assert DeviceCommand.objects.count() == 0
    assert out.getvalue().splitlines() == [
        "2 of 3 households pruned",
        "3 households pruned. Deleted: aemo prices 0, tariff pushes 0, tariff backups 0, "
        "device commands 1, events 1, amber prices 0",
    ]
    out = io.StringIO()
    call_command("prune_history", household=[others[0].pk], stdout=out)
    assert out.getvalue().strip().startswith("1 household pruned. Deleted: tariff pushes 0")


def test_prune_history_command_refuses_an_unknown_household():
    with pytest.raises(CommandError, match="no household with id 999999"):
        call_command("prune_history", household=[999999])
