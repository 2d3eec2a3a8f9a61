"""Intents: what each automation, and the household, wants of a site's Powerwall.

An automation never calls Tesla. It sets or clears its intent (``intent_set`` / ``intent_clear``)
and asks for a reconcile (automations/reconcile.py), which alone writes to the Powerwall.

Priority, highest first (a setting goes to the highest intent that wants it):

| intent           | tariff                          | operation mode   | export rule |
|------------------|---------------------------------|------------------|-------------|
| operator hold    | nothing is written while it lasts (automations/pauses.py)            |
| force discharge  | export tariff, $2/kWh in window | autonomous       | battery_ok  |
| spike response   | export tariff at the spike price| autonomous       | battery_ok  |
| curtailment      |                                 |                  | never       |
| household hold   | the plan or profile it holds    |                  |             |
| force toggle     |                                 | self_consumption |             |
| live price sync  | built from fresh prices         |                  |             |

When no intent wants a setting any more, the household's own value comes back: the operation
mode and export rule it had when an intent first took them, and, after a spike or force
discharge when nothing else wants the tariff, the tariff saved before the takeover. A tariff that
live price sync or a hold put on stays when they end (it is the household's plan by then).

``data`` shapes, per kind (all JSON; money as strings, times ISO 8601 UTC):
- routine: ``{}``
- household_hold: ``{"name", "source": "profile"|"plan", "source_id", "tariff", "fingerprint"}``
- curtailment: ``{"earnings_c_per_kwh", "interval_end"}``
- spike: ``{"region", "rrp_dollars_per_mwh", "threshold_dollars_per_mwh",
  "calm_below_dollars_per_mwh", "sell_dollars_per_kwh", "window_start"}``
- force_discharge: ``{"minutes", "sell_dollars_per_kwh", "window_start", "periods"}``
- force_toggle: ``{"push_id"}``
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from automations.models import AutomationState, IntentKind, SiteIntent
from households.models import Event
from households.services import event_record

# Highest first. HOUSEHOLD is not an intent (the household's own settings) and comes last.
PRIORITY: tuple[IntentKind, ...] = (
    IntentKind.OPERATOR_HOLD,
    IntentKind.FORCE_DISCHARGE,
    IntentKind.SPIKE,
    IntentKind.CURTAILMENT,
    IntentKind.HOUSEHOLD_HOLD,
    IntentKind.FORCE_TOGGLE,
    IntentKind.ROUTINE,
)
RANK = {kind: rank for rank, kind in enumerate(PRIORITY)}
# Intents whose tariff makes the Powerwall export now; the tariff they replace is saved.
OVERRIDES = frozenset({IntentKind.FORCE_DISCHARGE, IntentKind.SPIKE})

AUTOMATION_OF: dict[str, str] = {
    IntentKind.OPERATOR_HOLD: Event.Automation.OPERATOR,
    IntentKind.FORCE_DISCHARGE: Event.Automation.FORCE_DISCHARGE,
    IntentKind.SPIKE: Event.Automation.SPIKE,
    IntentKind.CURTAILMENT: Event.Automation.CURTAILMENT,
    IntentKind.HOUSEHOLD_HOLD: Event.Automation.HOUSEHOLD,
    IntentKind.FORCE_TOGGLE: Event.Automation.FORCE_TOGGLE,
    IntentKind.ROUTINE: Event.Automation.TOU_SYNC,
    IntentKind.HOUSEHOLD: Event.Automation.HOUSEHOLD,
}
# Why live price sync decides the tariff (its intent carries nothing else).
ROUTINE_WHY = "Your tariff follows live prices."
# Intents switched on and off too often to log each time (their commands are logged).
QUIET = frozenset({IntentKind.FORCE_TOGGLE})


@dataclass(frozen=True)
class Intent:
    """An active intent as the reconcile sees it."""

    kind: IntentKind
    since: dt.datetime | None
    until: dt.datetime | None
    why: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return RANK[self.kind]

    def expired(self, now: dt.datetime) -> bool:
        return self.until is not None and self.until <= now


def intent_of(row: SiteIntent) -> Intent:
    return Intent(IntentKind(row.kind), row.since, row.until, row.why, dict(row.data or {}))


def active_intents(site_id: int, *, kinds: str | None = None) -> list[Intent]:
    """The site's active intents (expired ones included: the reconcile ends those).

    ``kinds``: the state's ``intent_kinds`` when the caller has it: with live price sync alone
    (or nothing) there is no row worth reading (its intent carries no data).
    """
    if kinds is not None and kinds in ("", IntentKind.ROUTINE):
        return [Intent(IntentKind.ROUTINE, None, None, "")] if kinds else []
    rows = SiteIntent.objects.filter(site_id=site_id, active=True)
    return sorted((intent_of(row) for row in rows), key=lambda intent: intent.rank)


def _lock_site_state(site_id: int) -> str:
    """Serialise intent changes of one site (each rewrites the ``intent_kinds`` summary from
    the one before); returns the summary as it stands."""
    locked = AutomationState.objects.select_for_update().filter(site_id=site_id)
    kinds = locked.values_list("intent_kinds", flat=True).first()
    if kinds is None:
        AutomationState.objects.get_or_create(site_id=site_id)
        kinds = locked.values_list("intent_kinds", flat=True).get()
    return kinds


def _kinds_after(kinds: str, *, add: str = "", remove: str = "") -> str:
    """The summary with ``add`` in it, or ``remove`` out of it, in priority order."""
    present = (set(filter(None, kinds.split(","))) | {add}) - {remove, ""}
    return ",".join(sorted(present, key=lambda kind: RANK[IntentKind(kind)]))


def _kinds_change(site_id: int, known: str | None, *, add: str = "", remove: str = "") -> str:
    """Rewrite the summary, serialised per site; returns it as it stood before.

    ``known``: the summary as the caller read it (a reconcile holds the site's state). The
    rewrite is then conditional on it (one query, which also holds the row until commit); when
    another change got there first, or nothing is known, the row is locked and read.
    """
    rows = AutomationState.objects.filter(site_id=site_id)
    if known is not None:
        after = _kinds_after(known, add=add, remove=remove)
        if after == known or rows.filter(intent_kinds=known).update(intent_kinds=after):
            return known
    kinds = _lock_site_state(site_id)
    after = _kinds_after(kinds, add=add, remove=remove)
    if after != kinds:
        rows.update(intent_kinds=after)
    return kinds


def _record(
    site_id: int, household_id: int, kind: IntentKind, decision: str, why: str, **extra: Any
) -> None:
    if kind in QUIET:
        return
    event_record(
        household_id=household_id,
        site_id=site_id,
        automation=AUTOMATION_OF[kind],
        intent=kind,
        decision=decision,
        reason=why,
        **extra,
    )


@transaction.atomic
def intent_set(
    *,
    site_id: int,
    household_id: int,
    kind: IntentKind,
    why: str,
    data: dict[str, Any] | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
    started: str = "",
    kinds: str | None = None,
) -> bool:
    """Switch the intent on (or update what it wants while on). Returns True if it was off.

    Intent changes of a site are serialised on its automation state's row (its ``intent_kinds``
    says which are on): of two workers starting one intent, one records the start
    (``started``: the event's decision, default "<kind> started"). ``kinds``: the summary as
    the caller read it, when it has it (see ``_kinds_change``). Ask for a reconcile afterwards
    (automations.dispatch, or automations.reconcile in a worker).
    """
    if kind == IntentKind.OPERATOR_HOLD or kind == IntentKind.HOUSEHOLD:
        raise ValueError(f"{kind} is not a stored intent")
    moment = now or timezone.now()
    values = {"why": why[:300], "data": data or {}, "until": until}
    rows = SiteIntent.objects.filter(site_id=site_id, kind=kind)
    if kinds is not None and kind in kinds.split(","):
        # On already (the caller holds the site's reconcile): what it wants may change, not
        # since when.
        rows.update(**values)
        return False
    before = _kinds_change(site_id, kinds, add=kind)
    if kind in before.split(","):  # on already
        rows.update(**values)
        return False
    # One statement whether the row exists (switched off) or not (the kind's first time).
    SiteIntent.objects.bulk_create(
        [SiteIntent(site_id=site_id, kind=kind, active=True, since=moment, **values)],
        update_conflicts=True,
        unique_fields=["site", "kind"],
        update_fields=["active", "since", *values, "updated_at"],
    )
    _record(
        site_id,
        household_id,
        kind,
        started or f"{IntentKind(kind).label} started",
        why,
        data={"until": until.isoformat() if until else None},
    )
    return True


@transaction.atomic
def intent_clear(
    *,
    site_id: int,
    household_id: int,
    kind: IntentKind,
    why: str,
    ended: str = "",
    kinds: str | None = None,
) -> bool:
    """Switch the intent off. Returns True if it was on (then the end is recorded once).
    ``kinds``: as for ``intent_set``."""
    if kinds is not None and kind not in kinds.split(","):
        return False
    before = _kinds_change(site_id, kinds, remove=kind)
    if kind not in before.split(","):
        return False
    turned_off = SiteIntent.objects.filter(site_id=site_id, kind=kind, active=True).update(
        active=False
    )
    if turned_off:
        _record(site_id, household_id, kind, ended or f"{IntentKind(kind).label} ended", why)
    return bool(turned_off)


def intent_is_active(site_id: int, kind: IntentKind) -> bool:
    return SiteIntent.objects.filter(site_id=site_id, kind=kind, active=True).exists()


class SiteIntents:
    """One site's active intents as a reconcile pass holds them (under the site's lock).

    Changes go to the database at once (``intent_set`` / ``intent_clear``, given the summary
    this view was read with, so a change costs no extra read) and to this view. A change made
    meanwhile outside the lock (a household's hold, a force discharge) asks for a reconcile of
    its own, which runs after this pass with a fresh view.
    """

    def __init__(self, site_id: int, household_id: int, kinds: str) -> None:
        self.site_id = site_id
        self.household_id = household_id
        self.kinds = kinds
        self.active = active_intents(site_id, kinds=kinds)

    def of(self, kind: IntentKind) -> Intent | None:
        return next((intent for intent in self.active if intent.kind == kind), None)

    def set(
        self,
        kind: IntentKind,
        *,
        why: str,
        now: dt.datetime,
        data: dict[str, Any] | None = None,
        until: dt.datetime | None = None,
        started: str = "",
    ) -> bool:
        """As ``intent_set``; returns True if it was off."""
        started_now = intent_set(
            site_id=self.site_id,
            household_id=self.household_id,
            kind=kind,
            why=why,
            data=data,
            until=until,
            now=now,
            started=started,
            kinds=self.kinds,
        )
        was = self.of(kind)
        since = now if started_now or was is None else was.since
        self.active = sorted(
            [i for i in self.active if i.kind != kind]
            + [Intent(kind, since, until, why[:300], dict(data or {}))],
            key=lambda intent: intent.rank,
        )
        self.kinds = _kinds_after(self.kinds, add=kind)
        return started_now

    def clear(self, kind: IntentKind, *, why: str, ended: str = "") -> bool:
        """As ``intent_clear``; returns True if it was on."""
        ended_now = intent_clear(
            site_id=self.site_id,
            household_id=self.household_id,
            kind=kind,
            why=why,
            ended=ended,
            kinds=self.kinds,
        )
        self.active = [intent for intent in self.active if intent.kind != kind]
        self.kinds = _kinds_after(self.kinds, remove=kind)
        return ended_now
