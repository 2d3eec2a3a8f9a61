"""Issue 15's scenario, end to end through a real Celery worker against the simulator.

A Brisbane household with live price sync, spike response and curtailment on. The simulator
runs an AEMO spike in QLD1, then the negative feed-in scenario (midday exports cost money) while
the spike calms down. The test plays Beat minute by minute (the spike check, the curtailment
check, the minute sweep; the sync at each interval start and when settled prices arrive) and
the clock; the worker (threads pool, all queues) does the rest.

Before the one-owner reconcile the spike's restore and a repair task ran in the same second: two
identical tariff writes, the export rule reset to battery_ok while feed-in was negative,
curtailment never re-applied, and a "Force discharge" event nobody started. Here: curtailment
holds through the spike's end (the export rule goes to never once and stays), no write repeats
what the Powerwall holds, and every event belongs to an intent that was active.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from amqp.exceptions import ChannelError
from celery.signals import task_postrun, task_prerun
from django.db import connection
from kombu import Queue

from automations.models import AutomationState, IntentKind, SiteIntent
from automations.selectors import site_control
from credentials.models import SiteCredentials
from devices.models import Site
from households.models import Event
from powersync_site.celery import QUEUES
from powersync_site.celery import app as celery_app
from tariffs.engine.fingerprint import tariff_fingerprint
from tasks import curtail as curtail_tasks
from tasks import reconcile as reconcile_tasks
from tasks import spike as spike_tasks
from tasks import sync as sync_tasks
from tests.automations.conftest import control, real_worker, tesla_history
from tests.factories import SiteFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BRISBANE = ZoneInfo("Australia/Brisbane")
START = dt.datetime(2025, 6, 28, 11, 0, 5, tzinfo=BRISBANE)  # in the negative feed-in window
MINUTES = 25
IDLE_TIMEOUT_S = 30.0


class Tasks:
    """Counts the worker's tasks: started and finished, to know when it has gone quiet."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.failed: list[str] = []
        self.lock = threading.Lock()

    def prerun(self, **_: Any) -> None:
        with self.lock:
            self.started += 1

    def postrun(self, sender: Any = None, state: Any = None, **_: Any) -> None:
        with self.lock:
            self.finished += 1
            if state not in ("SUCCESS", "RETRY"):
                self.failed.append(f"{getattr(sender, 'name', sender)}: {state}")

    def queued(self) -> int:
        total = 0
        with celery_app.connection_for_write() as conn:
            for name in QUEUES:
                try:
                    declared = Queue(name).bind(conn.default_channel).queue_declare(passive=True)
                except ChannelError:  # Redis: an empty queue has no key at all
                    continue
                total += int(declared.message_count)  # type: ignore[union-attr]
        return total

    def wait_idle(self, label: str) -> None:
        """Until the queues are empty and nothing runs, three polls in a row."""
        deadline = time.monotonic() + IDLE_TIMEOUT_S
        quiet = 0
        while quiet < 3:
            if time.monotonic() > deadline:
                pytest.fail(f"{label}: the worker did not go quiet in {IDLE_TIMEOUT_S} s")
            time.sleep(0.05)
            with self.lock:
                running = self.started - self.finished
            quiet = quiet + 1 if running == 0 and self.queued() == 0 else 0


@pytest.fixture
def tasks() -> Iterator[Tasks]:
    counter = Tasks()
    task_prerun.connect(counter.prerun, weak=False)
    task_postrun.connect(counter.postrun, weak=False)
    try:
        yield counter
    finally:
        task_prerun.disconnect(counter.prerun)
        task_postrun.disconnect(counter.postrun)


@pytest.fixture
def brisbane_site(upstream, fernet_keys) -> Site:
    """The simulated QLD1 household, with live price sync, spike response and curtailment on."""
    households = control(upstream, "/households?limit=10")["households"]
    home = next(h for h in households if h["region"] == "QLD1")
    site = SiteFactory.create(
        amber_site_id=home["amber_site_id"],
        tesla_energy_site_id=str(home["energy_site_id"]),
        tesla_access=Site.TeslaAccess.TESLEMETRY,
        teslemetry_region="na",
        time_zone=home["time_zone"],
        aemo_region="QLD1",
        tou_sync_enabled=True,
        spike_detection_enabled=True,
        curtailment_enabled=True,
    )
    SiteCredentials.objects.create(
        site=site, amber_token=home["amber_token"], teslemetry_api_key=home["teslemetry_key"]
    )
    AutomationState.objects.create(site=site)
    # The Powerwall as the household left it (the simulator keeps state between tests).
    powerwall = control(upstream, f"/tesla/sites/{site.tesla_energy_site_id}")
    assert powerwall["operation_mode"] == "autonomous"
    if powerwall["export_rule"] != "battery_ok":
        from devices.clients import tesla_client_for

        tesla_client_for(site).set_grid_import_export(
            int(site.tesla_energy_site_id), export_rule="battery_ok"
        )
    return site


def replay(history: list[dict[str, Any]], start: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(setting, before, after) of every accepted write, from the Powerwall's state before."""
    held = {
        "operation": start["operation_mode"],
        "grid_import_export": start["export_rule"],
        "time_of_use_settings": tariff_fingerprint(start["tariff_content_v2"]),
    }
    changes = []
    for write in history:
        if not write["accepted"]:
            continue
        command, body = write["command"], write["body"]
        after = {
            "operation": lambda b: b["default_real_mode"],
            "grid_import_export": lambda b: b["customer_preferred_export_rule"],
            "time_of_use_settings": lambda b: tariff_fingerprint(
                b["tou_settings"]["tariff_content_v2"]
            ),
        }[command](body)
        changes.append((command, held[command], after))
        held[command] = after
    return changes


def test_curtailment_holds_through_the_end_of_a_spike(upstream, brisbane_site, tasks):
    site = brisbane_site
    before = control(upstream, f"/tesla/sites/{site.tesla_energy_site_id}")
    seq = max((w["seq"] for w in tesla_history(upstream, site)), default=0)

    # SQLite's in-memory test database locks whole tables between threads: one at a time there.
    threads = 1 if connection.vendor == "sqlite" else 4
    with (
        real_worker(QUEUES, concurrency=threads),
        time_machine.travel(START, tick=False) as clock,
        mock.patch.object(sync_tasks, "SETTLED_DELAYS_SECONDS", ()),  # sent below when due
    ):

        def at(moment: dt.datetime) -> None:
            control(upstream, "/clock", {"now": moment.isoformat(), "speed": 0})
            clock.move_to(moment)

        at(START)
        control(
            upstream,
            "/scenario",
            {"name": "aemo_spike", "params": {"region": "QLD1", "duration_minutes": 10}},
        )
        for minute in range(MINUTES):
            now = START + dt.timedelta(minutes=minute)
            if minute == 6:  # the spike is over in AEMO's prices; exports start to cost
                control(upstream, "/scenario", {"name": "negative_feed_in"})
            at(now)
            if now.minute % 5 == 0:
                sync_tasks.sync_all.apply_async()
                tasks.wait_idle(f"sync at {now:%H:%M}")
            spike_tasks.check_regions.apply_async()
            curtail_tasks.check_all.apply_async()
            reconcile_tasks.sweep.apply_async()
            tasks.wait_idle(f"checks at {now:%H:%M}")
            if now.minute % 5 == 0:  # settled prices, 35 s in
                settled = now + dt.timedelta(seconds=35)
                at(settled)
                sync_tasks.sync_all_settled.apply_async((settled.isoformat(),))
                tasks.wait_idle(f"settled sync at {settled:%H:%M:%S}")

    assert tasks.failed == []
    after = control(upstream, f"/tesla/sites/{site.tesla_energy_site_id}")
    history = [w for w in tesla_history(upstream, site) if w["seq"] > seq]
    changes = replay(history, before)

    # The spike came and went; curtailment took the export rule when it could, and kept it.
    spike = SiteIntent.objects.get(site=site, kind=IntentKind.SPIKE)
    assert not spike.active
    assert SiteIntent.objects.get(site=site, kind=IntentKind.CURTAILMENT).active
    assert after["export_rule"] == "never"
    rules = [after_ for command, _, after_ in changes if command == "grid_import_export"]
    assert rules == ["never"]  # never reset to battery_ok while feed-in cost money
    assert after["operation_mode"] == "autonomous"
    assert after["tariff_content_v2"]["name"] == "PowerSync live prices"  # from fresh prices

    # No write repeated what the Powerwall held; tariffs: the spike's, then live prices.
    assert all(before_ != after_ for _, before_, after_ in changes), changes
    tariff_names = [
        w["body"]["tou_settings"]["tariff_content_v2"]["name"]
        for w in history
        if w["command"] == "time_of_use_settings" and w["accepted"]
    ]
    assert "PowerSync spike export" in tariff_names
    spike_at = tariff_names.index("PowerSync spike export")
    assert tariff_names[spike_at + 1] == "PowerSync live prices"

    # No phantom events: each names an intent that was active, spike once in and once out.
    events = Event.objects.filter(site=site)
    assert not events.filter(automation=Event.Automation.FORCE_DISCHARGE).exists()
    assert not events.filter(outcome=Event.Outcome.FAILED).exists()
    assert set(events.values_list("intent", flat=True)) <= {
        "spike",
        "curtailment",
        "routine",
        "household",
    }
    decisions = list(events.filter(intent="spike").values_list("decision", flat=True))
    assert decisions.count("Price spike: exporting at spike prices") == 1
    assert decisions.count("Spike over: the Powerwall goes back to what waits behind it") == 1

    # What the household sees says what the battery does.
    state = AutomationState.objects.get(site=site)
    assert state.in_step
    assert (state.export_rule_owner, state.tariff_owner) == ("curtailment", "routine")
    picture = site_control(site=site, now=START + dt.timedelta(minutes=MINUTES))
    assert [line.kind for line in picture.in_control] == ["curtailment", "routine"]
    assert picture.headline.startswith("Solar curtailment while exporting earns nothing")
