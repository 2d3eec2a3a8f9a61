"""Random interleavings of everything that touches a Powerwall, against the invariants of the
one-owner design (issue 15), with Hypothesis' RuleBasedStateMachine.

The rules: prices change (feed-in crossing zero, stale and fresh again), Beat syncs, spike prices
start and end a spike, force discharges start, stop and run out, the household holds a plan and
resumes, the operator pauses and resumes, time passes, queued reconciles are delivered (twice,
sometimes), the minute sweep runs, and Tesla answers 429, times out (before or after applying),
is offline, or the worker is killed mid-write (before or after the Powerwall applied it).

Invariants, after every step:
- no write while an operator pause covers the site;
- no write that changes nothing (each write changes what the Powerwall holds);
- every write is a DeviceCommand with an intent; once the site is in step, every succeeded or
  unrecorded write has an event of its intent;
- curtailment is never undone (export rule other than never) while it is on and feed-in costs,
  unless a force discharge or spike (which outrank it) wants the battery to export;
- no tariff built from stale prices is pushed;
- the stored summary of active intent kinds matches the intent rows;
- after a reconcile that met no fault, the Powerwall holds exactly what the winning intents want
  (an independent oracle below, not automations.desired), and no export tariff that nothing
  wants any more.

Tesla is an in-memory fake (every write logged with its effect); live prices are a fake routine
tariff at a price level the machine sets (the engine's own freshness rules are tested elsewhere).
Everything else is real: the database, Redis locks, intents, the reconcile, the automations'
state machines and the dispatch point (captured into the machine's queue).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from automations import pauses
from automations.curtailment import CurtailmentCheck
from automations.force_discharge import force_discharge_start, force_discharge_stop
from automations.holds import household_hold_end, household_hold_start
from automations.models import AutomationState, SiteIntent
from automations.reconcile import CHECK_CHANGED_NOTHING, Outcome, site_reconcile
from automations.selectors import sites_to_sweep
from automations.spike import SpikeCheck
from credentials.models import SiteCredentials
from devices.models import DeviceCommand, Site
from devices.providers import tesla
from devices.providers.tesla import CommandResult, SiteInfo
from households.models import Event
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.freshness import Refused
from tariffs.engine.model import HalfHourRates
from tariffs.engine.tesla_format import render_half_hour_tariff
from tariffs.site_tariff import SiteTariff
from tests.factories import SiteFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

START = dt.datetime(2025, 6, 28, 6, 24, tzinfo=dt.UTC)  # 16:24 in Sydney
# What the examples exercised, summed over the run (so the test can tell it was not vacuous).
SEEN: Counter[str] = Counter()
EXAMPLES = int(os.environ.get("STATEFUL_EXAMPLES", "500"))


class WorkerKilled(BaseException):
    """The worker died mid-task (a BaseException: no handler of the code under test sees it)."""


def flat_tariff(buy: str, sell: str, name: str) -> dict[str, Any]:
    rates = HalfHourRates((Decimal(buy),) * 48, (Decimal(sell),) * 48)
    return render_half_hour_tariff(rates, plan_name=name, utility="Test")


HOUSEHOLD_TARIFF = flat_tariff("0.3", "0.05", "Household own")
HOLD_TARIFFS = {
    "A": flat_tariff("0.25", "0.08", "Hold A"),
    "B": flat_tariff("0.4", "0.1", "Hold B"),
}


def tariff_kind(content: dict[str, Any]) -> str:
    """What a tariff on the fake Powerwall is, by the plan it was rendered as."""
    name = str(content.get("name", ""))
    return {
        "PowerSync spike export": "spike",
        "PowerSync force discharge": "force_discharge",
        "PowerSync live prices": "routine",
        "Household own": "household",
        "Hold A": "hold:A",
        "Hold B": "hold:B",
    }.get(name, name)


@dataclass
class Write:
    setting: str
    before: str
    after: str
    at: dt.datetime
    paused: bool
    curtail_guarded: bool  # curtailment on, feed-in costs, no export intent above it
    stale: bool
    intent: str  # of the DeviceCommand recorded for it (created before every call)


@dataclass
class FakePowerwall:
    """A Tesla energy site in memory, with one armed fault for the next call."""

    mode: str
    export_rule: str
    tariff: dict[str, Any]
    writes: list[Write] = field(default_factory=list)
    fault: str = ""
    machine: Any = None

    def _fault(self, applied: bool) -> None:
        """Raise the armed fault at its moment: before applying, or after (``applied``)."""
        fault = self.fault
        if not fault or fault.endswith("_after") != applied:
            return
        self.fault = ""
        SEEN[f"fault {fault}"] += 1
        if fault == "rate_limited":
            raise tesla.RateLimited("429", http_status=429, retry_after_s=7)
        if fault == "offline":
            raise tesla.DeviceOffline("offline", http_status=408)
        if fault.startswith("timeout"):
            raise tesla.Unavailable("timed out")
        raise WorkerKilled(fault)

    def _write(self, setting: str, before: str, after: str) -> CommandResult:
        self._fault(applied=False)
        SEEN[f"write {setting}"] += 1
        command = DeviceCommand.objects.filter(site=self.machine.site).order_by("-id").first()
        self.writes.append(
            Write(
                setting,
                before,
                after,
                self.machine.now,
                self.machine.paused,
                self.machine.curtailment_guarded(),
                self.machine.stale,
                command.intent if command else "",
            )
        )
        self._fault(applied=True)
        return CommandResult(result=True, reason="Updated", http_status=200, latency_ms=1.0)

    def site_info(self, energy_site_id: int) -> SiteInfo:
        if self.fault in ("rate_limited", "offline", "timeout_before"):
            self._fault(applied=False)
        return SiteInfo(
            operation_mode=self.mode, export_rule=self.export_rule, tariff_content_v2=self.tariff
        )

    def set_operation_mode(self, energy_site_id: int, mode: str) -> CommandResult:
        before, self.mode = self.mode, mode
        try:
            return self._write("operation_mode", before, mode)
        except tesla.TeslaError:
            if not self.writes or self.writes[-1].after != mode:
                self.mode = before  # refused before it applied
            raise

    def set_grid_import_export(self, energy_site_id: int, export_rule: str) -> CommandResult:
        before, self.export_rule = self.export_rule, export_rule
        try:
            return self._write("export_rule", before, export_rule)
        except tesla.TeslaError:
            if not self.writes or self.writes[-1].after != export_rule:
                self.export_rule = before
            raise

    def set_time_of_use_settings(
        self, energy_site_id: int, content: dict[str, Any]
    ) -> CommandResult:
        before, self.tariff = self.tariff, content
        try:
            return self._write("tariff", tariff_fingerprint(before), tariff_fingerprint(content))
        except tesla.TeslaError:
            if not self.writes or self.writes[-1].setting != "tariff":
                self.tariff = before
            raise


# The fake's writes are recorded before the fault "after" is raised, so a failed-after write
# stays applied; one failed before leaves the Powerwall as it was (see the except clauses).


class PowerwallMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.now = START
        self.level_c = 20  # the live buy price level, c/kWh
        self.feed_in_c = Decimal("-5")  # Amber's sign: negative = exporting earns
        self.stale = False
        self.paused_pause: Any = None
        self.queue: list[tuple[str, list[Any], dict[str, Any]]] = []
        self.clean = False  # the last reconcile met no fault, and nothing changed since
        self.powerwall: FakePowerwall | None = None
        self.patches: list[Any] = []

    # --- set-up -------------------------------------------------------------------------

    @initialize(
        mode=st.sampled_from(["autonomous", "self_consumption"]),
        rule=st.sampled_from(["battery_ok", "pv_only", "never"]),
        syncing=st.booleans(),
        toggle=st.booleans(),
    )
    def a_site(self, mode: str, rule: str, syncing: bool, toggle: bool) -> None:
        self.site = SiteFactory.create(
            time_zone="Australia/Sydney",
            tesla_energy_site_id="4242",
            aemo_region="NSW1",
            tou_sync_enabled=syncing,
            curtailment_enabled=True,
            spike_detection_enabled=True,
            force_mode_toggle_enabled=toggle,
        )
        SiteCredentials.objects.create(site=self.site, amber_token="t", teslemetry_api_key="k")
        AutomationState.objects.create(site=self.site)
        self.powerwall = FakePowerwall(mode, rule, HOUSEHOLD_TARIFF, machine=self)
        self.household = (mode, rule)
        self.patches = [
            mock.patch("automations.reconcile.tesla_client_for", return_value=self.powerwall),
            mock.patch("automations.reconcile.routine_tariff", self._routine_tariff),
            mock.patch("automations.dispatch._send", self._queue),
        ]
        for patch in self.patches:
            patch.start()

    def teardown(self) -> None:
        try:
            if self.powerwall is not None:
                self._converges()
        finally:
            for patch in self.patches:
                patch.stop()
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

    def _routine_tariff(self, site: Site, state: Any, creds: Any, **kwargs: Any) -> Any:
        if self.stale:
            return Refused(reason="prices are stale (the last interval ended long ago)")
        buy = Decimal(self.level_c) / 100
        rates = HalfHourRates((buy,) * 48, (Decimal("0.06"),) * 48)
        return SiteTariff(rates=rates, notes=(), utility="Amber Electric")

    def _queue(self, name: str, args: list[Any], **options: Any) -> None:
        self.queue.append((name, list(args), options))

    # --- what the machine knows -----------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.paused_pause is not None

    def intents(self) -> dict[str, SiteIntent]:
        rows = SiteIntent.objects.filter(site=self.site, active=True)
        return {row.kind: row for row in rows if row.until is None or row.until > self.now}

    def curtailment_guarded(self) -> bool:
        """Curtailment must hold never: on, feed-in costs, nothing above it wants export."""
        active = self.intents()
        return self.feed_in_c >= 0 and "force_discharge" not in active and "spike" not in active

    def _reconcile(self, **kwargs: Any) -> None:
        try:
            result = site_reconcile(site_id=self.site.pk, now=self.now, **kwargs)
        except (tesla.TeslaError, WorkerKilled):
            self.clean = False
            return
        if result.checked is not None and result.checked.changed:
            self._changed()
        if result.detail == CHECK_CHANGED_NOTHING:
            return  # the pass stopped at the check: the Powerwall was in step, and still is
        self.clean = result.outcome in (Outcome.IN_STEP, Outcome.SENT)

    def _changed(self) -> None:
        self.clean = False

    # --- rules: prices and the automations -------------------------------------------------

    @rule(level=st.sampled_from([5, 10, 20, 35, 60]))
    def buy_price_moves(self, level: int) -> None:
        if level != self.level_c:
            self.level_c = level
            self._changed()

    @rule(feed_in=st.sampled_from(["-8", "-1", "0", "2", "7"]))
    def curtailment_check(self, feed_in: str) -> None:
        """A feed-in price (the listener's or Amber's): the check, run by the reconcile."""
        self.feed_in_c = Decimal(feed_in)
        self._reconcile(check=CurtailmentCheck(feed_in_c_per_kwh=self.feed_in_c))

    @rule()
    def prices_go_stale_or_fresh(self) -> None:
        self.stale = not self.stale
        self._changed()

    @rule(reason=st.sampled_from(["forecast", "settled", "manual"]))
    def beat_sync(self, reason: str) -> None:
        self._reconcile(routine=reason)

    @rule(rrp=st.sampled_from(["100", "260", "280", "5000"]))
    def spike_price(self, rrp: str) -> None:
        interval_end = self.now.replace(second=0, microsecond=0)
        self._reconcile(check=SpikeCheck(Decimal(rrp), interval_end))

    @rule(minutes=st.sampled_from([15, 30, 60]))
    def force_discharge(self, minutes: int) -> None:
        force_discharge_start(site=self.site, minutes=minutes, now=self.now)
        self._changed()

    @rule()
    def stop_force_discharge(self) -> None:
        if force_discharge_stop(site=self.site):
            self._changed()

    @rule(which=st.sampled_from(["A", "B"]), hours=st.sampled_from([None, 1]))
    def household_holds(self, which: str, hours: int | None) -> None:
        household_hold_start(
            site=self.site,
            tariff_content=HOLD_TARIFFS[which],
            name=which,
            source="profile",
            source_id=1,
            hours=hours,
            now=self.now,
        )
        self._changed()

    @rule()
    def household_resumes(self) -> None:
        if household_hold_end(site=self.site):
            self._changed()

    @rule()
    def operator_pauses_or_resumes(self) -> None:
        if self.paused_pause is None:
            self.paused_pause = pauses.writes_pause(scope="fleet", reason="incident")
        else:
            pauses.writes_resume(pause=self.paused_pause)
            self.paused_pause = None
        self._changed()

    @rule(minutes=st.sampled_from([0.1, 1, 5, 31, 61]))
    def time_passes(self, minutes: float) -> None:
        self.now += dt.timedelta(minutes=minutes)
        self._changed()

    # --- rules: the queue, the sweep, faults ---------------------------------------------------

    @precondition(lambda self: bool(self.queue))
    @rule(data=st.data(), twice=st.booleans())
    def deliver_a_queued_reconcile(self, data: st.DataObject, twice: bool) -> None:
        index = data.draw(st.integers(0, len(self.queue) - 1))
        name, args, _options = self.queue.pop(index)
        for _ in range(2 if twice else 1):  # at-least-once delivery
            if name == "tasks.sync.sync_site":
                self._reconcile(routine=args[1])
            else:
                self._reconcile()

    @rule()
    def minute_sweep(self) -> None:
        for site_id in sites_to_sweep(now=self.now + dt.timedelta(minutes=2)):
            assert site_id == self.site.pk
            self._reconcile()

    @rule(
        fault=st.sampled_from(
            [
                "rate_limited",
                "offline",
                "timeout_before",
                "timeout_after",
                "killed_before",
                "killed_after",
            ]
        )
    )
    def tesla_fails_next(self, fault: str) -> None:
        assert self.powerwall is not None
        self.powerwall.fault = fault

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def no_write_while_paused_and_none_that_changes_nothing(self) -> None:
        if self.powerwall is None:
            return
        for write in self.powerwall.writes:
            assert not write.paused, write
            assert write.before != write.after, write

    @invariant()
    def curtailment_is_never_undone_while_it_must_hold(self) -> None:
        if self.powerwall is None:
            return
        for write in self.powerwall.writes:
            if write.setting == "export_rule" and write.curtail_guarded:
                assert write.after in ("never", "pv_only"), write  # pv_only: SPEC's nudge
                if write.after == "pv_only":
                    assert write.before == "never", write

    @invariant()
    def nothing_is_pushed_from_stale_prices(self) -> None:
        if self.powerwall is None:
            return
        routine = DeviceCommand.objects.filter(site=self.site, kind="tariff", intent="routine")
        assert len(routine) <= sum(
            1 for w in self.powerwall.writes if w.setting == "tariff" and not w.stale
        ) + sum(1 for c in routine if c.status != DeviceCommand.Status.SUCCEEDED)

    @invariant()
    def every_write_is_a_command_with_an_intent(self) -> None:
        if self.powerwall is None:
            return
        assert all(write.intent for write in self.powerwall.writes)
        assert all(DeviceCommand.objects.filter(site=self.site).values_list("intent", flat=True))

    @invariant()
    def the_intent_summary_matches_the_rows(self) -> None:
        if self.powerwall is None:
            return
        kinds = set(
            SiteIntent.objects.filter(site=self.site, active=True).values_list("kind", flat=True)
        )
        summary = AutomationState.objects.get(site=self.site).intent_kinds
        assert set(filter(None, summary.split(","))) == kinds

    @invariant()
    def in_step_means_the_powerwall_holds_what_the_intents_want(self) -> None:
        if self.powerwall is None or not self.clean or self.paused:
            return
        self._assert_in_step()

    def _assert_in_step(self) -> None:
        assert self.powerwall is not None
        active = self.intents()
        SEEN["in step checked"] += 1
        SEEN.update(f"in step with {kind}" for kind in active)
        household_mode, household_rule = self.household
        exporting = "force_discharge" in active or "spike" in active
        # Operation mode.
        if exporting:
            mode = "autonomous"
        elif "force_toggle" in active:
            mode = "self_consumption"
        else:
            mode = household_mode
        assert self.powerwall.mode == mode, (active.keys(), self.powerwall.mode)
        # Export rule.
        if exporting:
            rule = "battery_ok"
        elif "curtailment" in active:
            rule = "never"
        else:
            rule = household_rule
        assert self.powerwall.export_rule == rule, (active.keys(), self.powerwall.export_rule)
        # Tariff.
        kind = tariff_kind(self.powerwall.tariff)
        if "force_discharge" in active:
            assert kind == "force_discharge"
        elif "spike" in active:
            assert kind == "spike"
        elif "household_hold" in active:
            assert kind == f"hold:{active['household_hold'].data['name']}"
        elif "routine" in active and not self.stale:
            assert kind == "routine"
        else:
            # Nothing wants the tariff (or live prices cannot be built): never an export tariff
            # that nothing wants any more.
            assert kind not in ("spike", "force_discharge"), kind
        # Every write that landed has an event of its intent (a write whose own record was cut
        # short gets one from the read-back that finds it).
        events = set(Event.objects.filter(site=self.site).values_list("intent", flat=True))
        landed = {write.intent for write in self.powerwall.writes}
        assert landed <= events, (landed, events)

    def _converges(self) -> None:
        """After the storm: faults cleared, the queue and a sweep run, prices fresh, pause
        lifted. The Powerwall must end in step."""
        assert self.powerwall is not None
        self.powerwall.fault = ""
        self.stale = False
        if self.paused_pause is not None:
            pauses.writes_resume(pause=self.paused_pause)
            self.paused_pause = None
        while self.queue:
            self.queue.pop(0)
            self._reconcile()
        self._reconcile(routine="manual")
        assert self.clean, AutomationState.objects.get(site=self.site).last_reconcile_detail
        self._assert_in_step()


def test_every_interleaving_keeps_one_owner_per_powerwall(settings_budget: None) -> None:
    SEEN.clear()
    run_state_machine_as_test(
        PowerwallMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=20,
            deadline=None,
            database=None,
            # No explain phase: it traces every line while shrinking, far too slow here.
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(
        f"\nstateful examples: {EXAMPLES}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(SEEN.items()))
    )
    # Not vacuous: the invariants met the states and faults they are about.
    assert SEEN["in step checked"] >= EXAMPLES
    for seen in ("write tariff", "write operation_mode", "write export_rule"):
        assert SEEN[seen] >= EXAMPLES // 10, seen
    for kind in ("spike", "force_discharge", "curtailment", "household_hold", "routine"):
        assert SEEN[f"in step with {kind}"] >= EXAMPLES // 20, kind
    assert sum(v for k, v in SEEN.items() if k.startswith("fault ")) >= EXAMPLES // 10


@pytest.fixture
def settings_budget(settings: Any) -> None:
    """A budget no example reaches: the write budget is not what these interleavings test."""
    settings.TESLA_WRITES_PER_HOUR = 10_000
    settings.TESLA_WRITES_PER_DAY = 100_000
    assert django_settings.TESLA_WRITES_PER_HOUR == 10_000
