"""One reconcile per site: the only path from intents to Powerwall writes.

Under the site's lock, a pass
1. loads the site's active intents and runs the check it was asked for (a spike or curtailment
   check, automations/checks.py: it may set or clear its intent; when it changed nothing and the
   Powerwall is in step, the pass ends there); ends the intents whose time is up, and keeps the
   live price sync intent in line with the site's setting;
2. finds, per setting, the intent that wins it (automations/desired.py) and whether an operator
   pause (automations/pauses.py) or a Tesla lock-out holds every write;
3. reads the Powerwall back when unsure (a write that may or may not have landed) or when an
   intent takes a setting from the household (its value is saved, to give back later);
4. plans the steps that change something (automations/plan.py): for live price sync, from
   prices fetched now (automations/routine.py); for a spike or force discharge, on the tariff
   saved before the takeover;
5. sends them in a safe order (tariff, mode, export rule), each recorded with its intent and an
   event; or, when paused, logs once what it would have sent.

Each command's owner (and the household's value it replaces) is written before the command, and
the Powerwall's new value after Tesla accepts it; a worker killed in between leaves
``held_unsure`` set, so the next pass reads back instead of guessing. A request that finds the
lock held leaves a mark the holder picks up when it releases (another pass), so nothing asked for
is dropped and two reconciles of one site never interleave; its check runs at once, alone, so a
spike or curtailment is never lost to a busy site.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from redis.exceptions import LockError

from automations import force_toggle, writes
from automations.checks import Check, CheckContext, Checked, state_update
from automations.desired import Setting, winners
from automations.intents import AUTOMATION_OF, ROUTINE_WHY, Intent, SiteIntents
from automations.models import AutomationState, IntentKind, WritePause
from automations.overrides import backup_save, confirmed_content
from automations.pauses import covering_pause
from automations.plan import (
    HELD_FIELD,
    HOUSEHOLD_FIELD,
    OWNER_FIELD,
    Plan,
    Step,
    TariffSend,
    held_of,
    hold_step,
    is_override,
    override_step,
    owner_of,
    restore_step,
    setting_steps,
)
from automations.routine import ROUTINE_REASONS, NoPriceAccess, SyncOutcome, routine_tariff
from credentials.models import SiteCredentials
from devices.clients import MissingCredentials, tesla_client_for
from devices.commands import write_budget_left
from devices.models import DeviceCommand, Site
from devices.providers.tesla import TeslaEnergyClient, TeslaError
from households.models import Event
from households.services import event_record
from ops.locks import lock_release_and_take, redis_client, redis_key
from pricing.providers.aemo import AemoError
from pricing.providers.amber import AmberError
from tariffs.change_rule import held_rates, push_needed
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.freshness import Refused
from tariffs.engine.settings import TariffSettingsError
from tariffs.models import TariffPush, TouProfile
from tariffs.site_tariff import current_half_hour_index

# The site setting that switches an automation's intent on (the routine one is kept in line both
# ways, below; the others are set by their automation and only ended here when switched off).
ENABLED_BY = {
    IntentKind.CURTAILMENT: "curtailment_enabled",
    IntentKind.SPIKE: "spike_detection_enabled",
    IntentKind.FORCE_TOGGLE: "force_mode_toggle_enabled",
}
# Errors of the upstreams a pass talks to (and a site without Tesla credentials).
UPSTREAM_ERRORS = (TeslaError, AmberError, AemoError, MissingCredentials)
# A price source that did not answer (after the provider client's own retries).
PRICE_ERRORS = (AmberError, AemoError)
LOCK_TTL_SECONDS = 120  # > one pass: a price fetch, a read-back, three commands and a push
MAX_PASSES = 4  # per call: the requested one plus the ones asked for while it ran
# Why a pass with a check stopped before planning.
CHECK_CHANGED_NOTHING = "the check changed no intent and the Powerwall is in step"


class Outcome(enum.StrEnum):
    IN_STEP = "in_step"  # the Powerwall holds what the intents want; nothing sent
    SENT = "sent"  # commands sent and accepted
    FAILED = "failed"  # Tesla refused, or the read-back differs; the next pass tries again
    PAUSED = "paused"  # an operator pause or a Tesla lock-out: nothing sent
    BUSY = "busy"  # another reconcile holds the site; it takes this request when done
    GONE = "gone"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    sync: SyncOutcome | None = None  # when a sync was asked for
    detail: str = ""
    checked: Checked | None = None  # when a check was asked for: what it did


# --- the lock and the requests left for its holder -------------------------------------------


def _pending_key(site_id: int) -> str:
    return redis_key("reconcile-pending", site_id)


def _pending_leave(site_id: int, routine_reason: str | None) -> None:
    """Leave a request for the holder of the lock: a sync reason, or "" (just reconcile)."""
    client, key = redis_client(), _pending_key(site_id)
    if routine_reason:
        client.set(key, routine_reason, ex=LOCK_TTL_SECONDS)
    else:
        client.set(key, "", ex=LOCK_TTL_SECONDS, nx=True)


def _pending_take(site_id: int) -> str | None:
    """The request left while the lock was held (None: none); taking it clears it."""
    value = redis_client().getdel(_pending_key(site_id))
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def site_reconcile(
    *,
    site_id: int,
    routine: str | None = None,
    due: dt.datetime | None = None,
    check: Check | None = None,
    now: dt.datetime | None = None,
) -> Result:
    """Reconcile one site. ``routine``: a sync is asked for (a TariffPush.Reason: prices are
    fetched now); ``due``: when that sync was meant to run (a site synced since has seen those
    prices); ``check``: a spike or curtailment check to run first. Tesla, Amber and AEMO errors
    propagate (the task's retry policy decides); whatever was sent before the error is
    recorded."""
    result = Result(Outcome.BUSY)
    if routine and due and _synced_since(site_id, due):
        # A backlog ran this sync late and a later one saw these prices already: nothing to do
        # (one small query, not a pass: at thousands of sites a backlog is when it matters).
        return Result(Outcome.IN_STEP, SyncOutcome.ALREADY_FRESH)
    checked: Checked | None = None
    for _ in range(MAX_PASSES):
        lock = redis_client().lock(
            redis_key("lock", "site", site_id), timeout=LOCK_TTL_SECONDS, blocking=False
        )
        if not lock.acquire():
            if check is not None:
                checked, in_step = _check_alone(site_id, check, now=now)
                check = None
                if checked is None or (not checked.changed and in_step and not routine):
                    return Result(Outcome.BUSY, checked=checked)
            _pending_leave(site_id, routine)
            if not lock.acquire():  # the holder takes the request when it releases
                return Result(result.outcome, result.sync, result.detail, checked)
            left = _pending_take(site_id)
            routine = routine or left or None
        try:
            run = _Pass(site_id, routine=routine, due=due, check=check, now=now)
            latest, again = run.run()
        except BaseException:
            with suppress(LockError):  # the TTL ran out: the key is gone or someone else's
                lock.release()
            raise  # what was left waits for the next holder
        checked = checked or run.checked
        check = None
        # A later pass without a sync keeps the sync outcome of the pass that ran it.
        result = Result(latest.outcome, latest.sync or result.sync, latest.detail, checked)
        left = lock_release_and_take(lock, _pending_key(site_id))
        if left is None and not again:
            return result
        routine, due = left or None, None
    return result


def _synced_since(site_id: int, due: dt.datetime) -> bool:
    return AutomationState.objects.filter(site_id=site_id, last_sync_at__gte=due).exists()


def _check_alone(
    site_id: int, check: Check, *, now: dt.datetime | None
) -> tuple[Checked | None, bool]:
    """Another reconcile holds the site: run the check now without it (its counters count each
    5-minute interval once, however often it is checked; its intent change serialises on the
    site's state row), so the holder's next pass sees what it changed. Returns what it did
    (None: the site is gone) and whether the Powerwall was in step."""
    site = _site_loaded(site_id)
    if site is None:
        return None, True
    state = _state_of(site)
    intents = SiteIntents(site.pk, site.household_id, state.intent_kinds)
    context = CheckContext(site, state, _credentials_of(site), intents, now or timezone.now())
    return check.run(context), state.in_step


def _site_loaded(site_id: int) -> Site | None:
    """The site with what every pass reads (a custom plan's schedule is read when built)."""
    return Site.objects.filter(pk=site_id).select_related("automation_state", "credentials").first()


# --- one pass --------------------------------------------------------------------------------


class _Pass:
    def __init__(
        self,
        site_id: int,
        *,
        routine: str | None,
        due: dt.datetime | None,
        check: Check | None,
        now: dt.datetime | None,
    ) -> None:
        self.site_id = site_id
        self.routine = routine
        self.due = due
        self.check = check
        self.checked: Checked | None = None
        self.now = now or timezone.now()
        self.changes: dict[str, Any] = {}
        self.sync: tuple[SyncOutcome, str] | None = None
        self.again = False
        self._client: TeslaEnergyClient | None = None
        self._held_content: dict[str, Any] | None = None
        self._read = False
        self._tariff_moved = False

    # The pass ---------------------------------------------------------------------------------

    def run(self) -> tuple[Result, bool]:
        site = _site_loaded(self.site_id)
        if site is None:
            return Result(Outcome.GONE), False
        self.site = site
        self.state = _state_of(site)
        self.credentials = _credentials_of(site)
        if self.routine and self.due and _synced_since_state(self.state, self.due):
            self.routine = None  # a sync since (while this one waited for the lock) saw them
            self.sync = (SyncOutcome.ALREADY_FRESH, "")
        self.view = SiteIntents(site.pk, site.household_id, self.state.intent_kinds)
        if self.check is not None:
            context = CheckContext(site, self.state, self.credentials, self.view, self.now)
            self.checked = self.check.run(context)
            if not self.checked.changed and self.state.in_step and not self.routine:
                # Nothing to write (one check a minute per site: no more queries than this).
                return Result(Outcome.IN_STEP, detail=CHECK_CHANGED_NOTHING), False
        self.intents = self._live_intents()
        self.winners = winners(self.intents, now=self.now)
        # An operator pause matters only to a plan with steps: asked for then (one query, not
        # one per settled sync that changes nothing), or first when the plan may save a backup.
        self.pause: WritePause | None = None
        blocked = self._blocked()
        pause_known = blocked is None and self._saves_a_backup()
        if pause_known:
            blocked = self._paused()
        self.blocked = blocked
        try:
            if blocked is None and self._must_read():
                self._read_back()  # reads are allowed while paused
            plan = self._plan(read_prices=blocked is None or self.pause is not None)
            if blocked is None and plan.steps and not pause_known:
                blocked = self.blocked = self._paused()
            result = self._hold(plan, blocked) if blocked is not None else self._send(plan)
        except UPSTREAM_ERRORS as exc:
            # Recorded (what was sent is recorded already), then the task's retry policy decides.
            detail = f"interrupted: {type(exc).__name__}"
            if self.routine and (self.sync is None or self.sync[0] == SyncOutcome.PUSHED):
                self.sync = (SyncOutcome.FAILED, detail)
            self._finish(Result(Outcome.FAILED, detail=detail))
            raise
        return self._finish(result), self.again

    def _live_intents(self) -> list[Intent]:
        """Active intents; those past their time end here, as do those whose automation the
        household turned off, and live price sync follows the site's setting (a setting
        changed anywhere shows within one pass)."""
        site, view = self.site, self.view
        for intent in list(view.active):
            setting = ENABLED_BY.get(intent.kind)
            if intent.expired(self.now):
                why, ended = "Its time was up.", f"{intent.kind.label} ended: its time was up"
            elif setting is not None and not getattr(site, setting):
                why, ended = "It was turned off.", f"{intent.kind.label} ended: turned off"
            else:
                continue
            view.clear(intent.kind, why=why, ended=ended)
        syncing = view.of(IntentKind.ROUTINE) is not None
        if site.tou_sync_enabled and not syncing:
            view.set(IntentKind.ROUTINE, why=ROUTINE_WHY, now=self.now)
        elif syncing and not site.tou_sync_enabled:
            view.clear(
                IntentKind.ROUTINE,
                why="Live price sync was turned off; the tariff on the Powerwall stays.",
            )
        return list(view.active)

    def _blocked(self) -> str | None:
        """Why this site cannot be written to, whatever the plan (None: it can)."""
        if self.site.needs_reauthorisation:
            return "Tesla needs re-authorisation"
        if not self.site.tesla_energy_site_id:
            return "no Powerwall chosen yet"
        if not _tesla_credentials_stored(self.site, self.credentials):
            return "no Tesla credentials: connect Tesla"
        return None

    def _paused(self) -> str | None:
        self.pause = covering_pause(self.site)
        if self.pause is None:
            return None
        return f"Writes paused by the operator ({self.pause.covers}): {self.pause.reason}"

    def _saves_a_backup(self) -> bool:
        """A takeover's first plan saves the tariff it replaces: not while writes are paused."""
        tariff = self.winners.tariff
        return (
            tariff is not None and is_override(tariff.kind) and self.state.tariff_backup_id is None
        )

    # Reading the Powerwall back ---------------------------------------------------------------

    @property
    def client(self) -> TeslaEnergyClient:
        if self._client is None:
            self._client = tesla_client_for(self.site, self.credentials)
        return self._client

    def _must_read(self) -> bool:
        state = self.state
        if state.held_unsure:
            return True
        for setting in (Setting.OPERATION_MODE, Setting.EXPORT_RULE):
            winner = self.winners.of(setting)
            if winner is None:
                continue
            if owner_of(state, setting) == "" or not held_of(state, setting):
                return True  # taking it from the household: its value, fresh
        tariff = self.winners.tariff
        return (
            tariff is not None
            and is_override(tariff.kind)
            and not is_override(state.tariff_owner)
            and confirmed_content(self.site, state.held_tariff_fingerprint) is None
        )

    def _read_back(self) -> None:
        """Read what the Powerwall holds. After a write that may or may not have landed, a
        setting found changed is recorded as an event of the intent that wrote it (the write
        landed; its own record was cut short), and a tariff found to be our latest push is that
        push, confirmed, owned by its intent."""
        info = self.client.site_info(int(self.site.tesla_energy_site_id))
        content = info.tariff_content_v2
        fingerprint = tariff_fingerprint(content) if content else ""
        self._held_content, self._read = content, True
        found = {
            Setting.TARIFF: fingerprint,
            Setting.OPERATION_MODE: info.operation_mode or "",
            Setting.EXPORT_RULE: info.export_rule or "",
        }
        self._tariff_moved = fingerprint != self.state.held_tariff_fingerprint
        values: dict[str, Any] = {HELD_FIELD[s]: value for s, value in found.items()}
        if self.state.held_unsure:
            landed = _confirm_late(self.site, fingerprint) if fingerprint else None
            if landed:
                values["tariff_owner"] = "" if landed == IntentKind.HOUSEHOLD else landed
            self._record_found(found, tariff_intent=landed)
        # Written with the first command's write-ahead or the pass's record: a pass that dies
        # before then leaves held_unsure set, and the next reads back again.
        self._stage(held_unsure=False, **values)

    def _record_found(self, found: dict[Setting, str], *, tariff_intent: str | None) -> None:
        for setting, value in found.items():
            before, owner = held_of(self.state, setting), owner_of(self.state, setting)
            if setting == Setting.TARIFF:
                owner = tariff_intent or ""
            if value == before or not owner:
                continue
            what = "the tariff" if setting == Setting.TARIFF else f"{setting.label} {value}"
            self._event(
                IntentKind(owner),
                f"Read back from the Powerwall: {what}",
                "A write whose outcome was not recorded (a timeout or an interrupted worker) "
                "is confirmed by reading the Powerwall.",
            )

    # Planning ---------------------------------------------------------------------------------

    def _plan(self, *, read_prices: bool) -> Plan:
        plan = Plan()
        tariff = self._tariff_step(read_prices=read_prices)
        if tariff is not None:
            plan.steps.append(tariff)
        for setting in (Setting.OPERATION_MODE, Setting.EXPORT_RULE):
            part = setting_steps(self.state, self.winners, setting)
            plan.steps.extend(part.steps)
            plan.changes.update(part.changes)
        return plan

    def _tariff_step(self, *, read_prices: bool) -> Step | None:
        state, winner = self.state, self.winners.tariff
        if winner is None and self.routine == TariffPush.Reason.MANUAL and read_prices:
            # "Sync now" with live price sync off: one sync, as asked.
            winner = Intent(IntentKind.ROUTINE, self.now, None, "Sync requested")
        if self.routine and (winner is None or winner.kind != IntentKind.ROUTINE):
            held_by = winner.kind.label if winner else "nothing (live price sync is off)"
            self.sync = (SyncOutcome.HELD, f"the tariff is held by {held_by.lower()}")
        if winner is None:
            return self._tariff_released()
        if is_override(winner.kind):
            backup = self._backup_for(winner)
            if backup is None:
                self._event(
                    winner.kind,
                    "No tariff to build the export tariff on",
                    "The Powerwall holds no tariff, so the export tariff cannot be built.",
                    Event.Outcome.FAILED,
                )
                return None
            step = override_step(state, self.site, winner, backup)
            if step is None:
                self.changes["tariff_owner"] = winner.kind
            return step
        if winner.kind == IntentKind.HOUSEHOLD_HOLD:
            step = hold_step(state, winner)
            if step is None:
                self.changes.update(tariff_owner=winner.kind)
            return step
        return self._routine_step(winner, read_prices=read_prices)

    def _tariff_released(self) -> Step | None:
        """No intent wants the tariff: after a takeover the saved tariff comes back; a tariff
        that live prices or a hold put on stays (it is the household's plan by then)."""
        state = self.state
        if not state.tariff_owner:
            return None
        if is_override(state.tariff_owner) and state.tariff_backup is not None:
            step = restore_step(state, state.tariff_backup)
            if step is not None:
                return step
        self.changes.update(tariff_owner="", tariff_backup=None)
        return None

    def _backup_for(self, override: Intent) -> TouProfile | None:
        state = self.state
        if state.tariff_backup is not None:
            # One takeover to another keeps the first backup (as does a takeover whose push
            # failed: the backup was saved before it).
            return state.tariff_backup
        held = self._held_content
        if held is None and state.held_tariff_fingerprint:
            held = confirmed_content(self.site, state.held_tariff_fingerprint)
        if held is None and not self._read and self.blocked is None:
            self._read_back()
            held = self._held_content
        # While writes are held the backup is only planned with: saved when the takeover is sent.
        backup = backup_save(
            self.site,
            held=held,
            kind=override.kind,
            now=self.now,
            save=self.blocked is None,
            held_fingerprint=state.held_tariff_fingerprint,
        )
        if backup is not None and self.blocked is None:
            self._stage(tariff_backup=backup)  # written before the takeover's first command
        return backup

    def _routine_step(self, winner: Intent, *, read_prices: bool) -> Step | None:
        state = self.state
        takeover = state.tariff_owner != IntentKind.ROUTINE
        # A read-back this pass found another tariff than the one believed held.
        unsure = self._tariff_moved or not state.held_tariff_fingerprint
        if not (self.routine or takeover or unsure):
            return None  # live prices decide at their own cadence (Beat's syncs)
        if not read_prices:
            return None
        reason = self.routine or TariffPush.Reason.RESUME
        try:
            built = routine_tariff(self.site, state, self.credentials, reason=reason, now=self.now)
        except NoPriceAccess as exc:
            self.sync = (SyncOutcome.PAUSED, str(exc))
            return self._fallback_after_override()
        except PRICE_ERRORS as exc:
            self._prices_unavailable(exc)
            raise
        except TariffSettingsError as exc:
            # A setting the tariff cannot be built with: refused (said once), never a crash.
            self._refused(
                f"Your {exc}. Change it in the site's settings.",
                reason=reason,
                decision="a setting cannot be used",
            )
            return self._fallback_after_override()
        if state.prices_unavailable_since is not None:
            self._prices_back()
        if isinstance(built, Refused):
            self._refused(built.reason, reason=reason)
            return self._fallback_after_override()
        if self.site.price_source == Site.PriceSource.CUSTOM:
            held = state.held_tariff_fingerprint
            matters = held != tariff_fingerprint(built.content)
            why = "the plan changed" if held else "no tariff pushed before"
        else:
            index = current_half_hour_index(self.now.astimezone(self.site.zone))
            previous = held_rates(
                self.site, now=self.now, fingerprint=state.held_tariff_fingerprint
            )
            matters, why = push_needed(previous, built.rates, index)
        if not matters:
            self.sync = (SyncOutcome.UNCHANGED, why)
            if takeover:
                self.changes.update(tariff_owner=IntentKind.ROUTINE, tariff_backup=None)
            return None
        # The budget holds back routine writes; never the one that ends a spike's or a force
        # discharge's export tariff.
        budgeted = reason in ROUTINE_REASONS and not is_override(state.tariff_owner)
        if budgeted and not write_budget_left(self.site.pk, now=self.now):
            self._no_budget(why)
            return None
        label = TariffPush.Reason(reason).label
        self.sync = (SyncOutcome.PUSHED, why)
        fingerprint = tariff_fingerprint(built.content)
        return Step(
            Setting.TARIFF,
            IntentKind.ROUTINE,
            fingerprint,
            f"{label}: {why}",
            TariffSend(built.content, fingerprint, reason, built.rates),
        )

    def _fallback_after_override(self) -> Step | None:
        """Live prices cannot be built: after a takeover, the tariff saved before it comes back
        (never keep an export tariff that nothing wants); otherwise keep the last good one."""
        state = self.state
        if is_override(state.tariff_owner) and state.tariff_backup is not None:
            return restore_step(state, state.tariff_backup)
        return None

    def _prices_unavailable(self, exc: Exception) -> None:
        """The price source did not answer: said once, when it starts (the Powerwall keeps the
        tariff it has; each sync tries again), and shown until prices are back."""
        since = self.state.prices_unavailable_since or self.now
        local = since.astimezone(self.site.zone)
        source = Site.PriceSource(self.site.price_source).label
        why = f"prices unavailable since {local:%H:%M}: holding the last good tariff"
        self.sync = (SyncOutcome.FAILED, why)
        if self.state.prices_unavailable_since is not None:
            return
        self._stage(prices_unavailable_since=since)
        self._event(
            IntentKind.ROUTINE,
            "Prices unavailable: holding the last good tariff",
            f"{source} did not answer ({type(exc).__name__}). The Powerwall keeps the tariff it "
            "has; every sync tries again.",
            Event.Outcome.FAILED,
        )

    def _prices_back(self) -> None:
        since = self.state.prices_unavailable_since
        assert since is not None
        self._stage(prices_unavailable_since=None)
        self._event(
            IntentKind.ROUTINE,
            "Prices are back: live price sync resumed",
            f"Prices were unavailable from {since.astimezone(self.site.zone):%H:%M}.",
        )

    def _refused(
        self, why: str, *, reason: str, decision: str = "prices are stale or missing"
    ) -> None:
        self.sync = (SyncOutcome.REFUSED, why)
        if self.state.last_sync_outcome == SyncOutcome.REFUSED:
            return  # recorded when the refusals began
        TariffPush.objects.create(
            site=self.site, reason=reason, status=TariffPush.Status.REFUSED, detail=why[:2000]
        )
        self._event(
            IntentKind.ROUTINE,
            f"Kept the last good tariff: {decision}",
            why,
            Event.Outcome.REFUSED,
        )

    def _no_budget(self, why: str) -> None:
        self.sync = (SyncOutcome.NO_BUDGET, why)
        if self.state.last_sync_outcome != SyncOutcome.NO_BUDGET:
            self._event(
                IntentKind.ROUTINE,
                "Sync held back: Tesla write budget used up",
                f"Prices changed ({why}) but this site reached its write budget.",
                Event.Outcome.SKIPPED,
            )

    # Holding (paused) -------------------------------------------------------------------------

    def _hold(self, plan: Plan, blocked: str) -> Result:
        """Send nothing; say once what would have been sent."""
        if self.routine and (self.sync is None or self.sync[0] == SyncOutcome.PUSHED):
            self.sync = (SyncOutcome.PAUSED, blocked)
        if not plan.steps:
            self.changes["paused_plan"] = ""
            return Result(Outcome.PAUSED, detail=blocked)
        key = hashlib.sha256("|".join(s.key for s in plan.steps).encode()).hexdigest()[:64]
        if self.pause is not None and key != self.state.paused_plan:
            would = "; ".join(step.describe() for step in plan.steps)
            self._event(
                IntentKind.OPERATOR_HOLD,
                "Paused by the operator: nothing sent to the Powerwall",
                f"{blocked}. Would have: {would}.",
                Event.Outcome.SKIPPED,
                data={"pause_id": self.pause.pk, "would": [s.key for s in plan.steps]},
            )
        self.changes["paused_plan"] = key
        return Result(Outcome.PAUSED, detail=blocked)

    # Sending ----------------------------------------------------------------------------------

    def _send(self, plan: Plan) -> Result:
        self.changes.update(plan.changes)
        self.changes["paused_plan"] = ""
        if not plan.steps:
            return Result(Outcome.IN_STEP)
        # Written before the first command: the Powerwall is unsure until the pass records
        # what each command did, and the mode and export rule are written down as ours, with
        # the household's own value when we take it, so a worker killed mid-plan never leaves
        # our value to be taken for the household's. (The tariff the household had is the
        # backup, saved before the first takeover; the tariff's owner is the one confirmed
        # holding.) A pass killed before its record leaves ``held_unsure``: the next reads back.
        claims = [self._ahead_of(step) for step in plan.steps]
        before = {name: getattr(self.state, name) for claim in claims for name in claim}
        self._update(held_unsure=True, **{k: v for claim in claims for k, v in claim.items()})
        for index, step in enumerate(plan.steps):
            try:
                accepted = self._send_step(step)
            except TeslaError:
                self._unclaim(claims[index + 1 :], before)  # never sent
                raise
            if not accepted:  # refused: Tesla said what it holds
                self._unclaim(claims[index + 1 :], before)
                self._stage(held_unsure=False)
                return Result(Outcome.FAILED, detail=f"could not {step.describe()}")
        self._stage(held_unsure=False)
        return Result(Outcome.SENT, detail="; ".join(s.describe() for s in plan.steps))

    def _unclaim(self, claims: list[dict[str, Any]], before: dict[str, Any]) -> None:
        """Give the claims of steps never sent back to what they were."""
        self._stage(**{name: before[name] for claim in claims for name in claim})

    def _ahead_of(self, step: Step) -> dict[str, Any]:
        setting, state = step.setting, self.state
        if step.intent == IntentKind.HOUSEHOLD or setting == Setting.TARIFF:
            return {}
        ahead: dict[str, Any] = {OWNER_FIELD[setting]: step.intent}
        if owner_of(state, setting) == "":
            ahead[HOUSEHOLD_FIELD[setting]] = held_of(state, setting)
        return ahead

    def _send_step(self, step: Step) -> bool:
        setting = step.setting
        giving_back = step.intent == IntentKind.HOUSEHOLD
        try:
            accepted, held = self._call(step)
        except TeslaError as exc:
            self._event(
                step.intent,
                f"Could not {step.describe()}",
                f"{step.why}. Tesla: {type(exc).__name__}; the next reconcile tries again.",
                Event.Outcome.FAILED,
            )
            if self.routine and step.intent == IntentKind.ROUTINE:
                self.sync = (SyncOutcome.FAILED, f"Tesla: {type(exc).__name__}")
            raise
        after: dict[str, Any] = {}
        if held is not None:
            after[HELD_FIELD[setting]] = held
        if accepted and giving_back:
            after[OWNER_FIELD[setting]] = ""
        if accepted and setting == Setting.TARIFF and not giving_back:
            after["tariff_owner"] = step.intent
        if accepted and setting == Setting.TARIFF and not is_override(step.intent):
            after["tariff_backup"] = None
        self._stage(**after)  # recorded with the pass (see _send)
        return accepted

    def _call(self, step: Step) -> tuple[bool, str | None]:
        """Send one step: (accepted, what the Powerwall holds now if known)."""
        site, client = self.site, self.client
        if step.setting == Setting.TARIFF:
            assert step.tariff is not None
            sent = writes.tariff_push(
                site=site,
                client=client,
                content=step.tariff.content,
                reason=step.tariff.reason,
                why=step.why,
                intent=step.intent,
                rates=step.tariff.rates,
                fingerprint=step.tariff.fingerprint,
            )
            status = sent.push.status
            if step.intent == IntentKind.ROUTINE and self.sync is not None:
                outcome = {
                    TariffPush.Status.CONFIRMED: SyncOutcome.PUSHED,
                    TariffPush.Status.MISMATCH: SyncOutcome.MISMATCH,
                }.get(TariffPush.Status(status), SyncOutcome.FAILED)
                self.sync = (outcome, self.sync[1])
            confirmed = status == TariffPush.Status.CONFIRMED
            if confirmed and step.tariff.reason == TariffPush.Reason.SETTLED:
                self.again = force_toggle.after_settled_push(
                    site=site, push_id=sent.push.pk, now=self.now
                )
            return confirmed, sent.held_fingerprint or None
        accepted = writes.setting_set(
            site=site,
            client=client,
            setting=step.setting,
            value=step.value,
            intent=step.intent,
            why=step.why,
        )
        self._command_event(step, accepted)
        return accepted, step.value if accepted else None

    def _command_event(self, step: Step, accepted: bool) -> None:
        noun = "Operation mode" if step.setting == Setting.OPERATION_MODE else "Export rule"
        if not accepted:
            self._event(
                step.intent,
                f"Tesla refused: {step.describe()}",
                f"{step.why}. The next reconcile tries again.",
                Event.Outcome.FAILED,
            )
        elif step.intent == IntentKind.HOUSEHOLD:
            self._event(step.intent, f"{noun} back to yours: {step.value}", step.why)
        else:
            self._event(step.intent, f"{noun} set to {step.value}", step.why)

    # Records ----------------------------------------------------------------------------------

    def _event(
        self,
        intent: IntentKind,
        decision: str,
        reason: str,
        outcome: str = Event.Outcome.OK,
        data: dict[str, Any] | None = None,
    ) -> None:
        event_record(
            household_id=self.site.household_id,
            site_id=self.site.pk,
            automation=AUTOMATION_OF[intent],
            intent=intent,
            decision=decision,
            reason=reason,
            outcome=outcome,
            data=data,
        )

    def _stage(self, **values: Any) -> None:
        """Values to write with the next ``_update``."""
        self.changes.update(values)
        for name, value in values.items():
            setattr(self.state, name, value)

    def _update(self, **values: Any) -> None:
        """Write ``values`` and whatever was staged, now."""
        values = {**self.changes, **values}
        self.changes.clear()
        state_update(self.state, **values)

    def _finish(self, result: Result) -> Result:
        values = dict(self.changes)
        values.update(
            last_reconcile_at=self.now,
            last_reconcile_outcome=result.outcome,
            last_reconcile_detail=result.detail[:300],
            in_step=result.outcome in (Outcome.IN_STEP, Outcome.SENT),
        )
        sync = self.sync[0] if self.sync else None
        if self.sync is not None and sync != SyncOutcome.ALREADY_FRESH:
            values.update(
                last_sync_at=self.now,
                last_sync_outcome=self.sync[0],
                last_sync_detail=self.sync[1][:300],
            )
        self._update(**values)
        return Result(result.outcome, sync, result.detail)


def _synced_since_state(state: AutomationState, due: dt.datetime) -> bool:
    return state.last_sync_at is not None and state.last_sync_at >= due


def _state_of(site: Site) -> AutomationState:
    state = getattr(site, "automation_state", None)
    if state is None:
        state, _ = AutomationState.objects.get_or_create(site=site)
    return state


def _credentials_of(site: Site) -> SiteCredentials | None:
    try:
        return site.credentials
    except SiteCredentials.DoesNotExist:
        return None


def _tesla_credentials_stored(site: Site, credentials: SiteCredentials | None) -> bool:
    if credentials is None:
        return False
    if site.tesla_access == Site.TeslaAccess.TESLEMETRY:
        return bool(credentials.teslemetry_api_key)
    return bool(credentials.tesla_access_token)


def _confirm_late(site: Site, fingerprint: str) -> str | None:
    """A read-back found the tariff of our latest push, which had not been confirmed (a timeout
    or a worker killed after Tesla applied it): confirm it now, so it is the tariff the next
    sync compares with. Returns the intent that sent it (None: not our unconfirmed push)."""
    latest = (
        TariffPush.objects.filter(site=site, tariff_content__isnull=False)
        .order_by("-created_at", "-id")
        .values_list("pk", "fingerprint", "status")
        .first()
    )
    if latest is None or latest[1] != fingerprint or latest[2] == TariffPush.Status.CONFIRMED:
        return None
    TariffPush.objects.filter(pk=latest[0]).update(
        status=TariffPush.Status.CONFIRMED,
        verified_at=timezone.now(),
        detail="Confirmed by a later read-back",
    )
    intent: str | None = (
        DeviceCommand.objects.filter(
            site=site, kind=DeviceCommand.Kind.TARIFF, payload__push_id=latest[0]
        )
        .values_list("intent", flat=True)
        .first()
    )
    return intent


__all__ = ["Outcome", "Result", "WritePause", "site_reconcile"]
