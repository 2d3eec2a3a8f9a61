"""Which intent wins each Powerwall setting: the fixed priority of automations/intents.py, as a
pure function (no I/O), so the reconcile and the dashboard agree by construction."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from automations.intents import Intent
from automations.models import IntentKind


class Setting(enum.StrEnum):
    """The Powerwall settings the reconcile manages, in the order it writes them: the tariff
    first, so the mode that makes the Powerwall follow a tariff never meets a stale one (on a
    takeover the export tariff is in place before autonomous; on the way back the household's
    tariff is back before its own mode), then the mode, then the export rule. No automation
    uses grid charging yet; it would be a fourth setting with the same rules."""

    TARIFF = "tariff"
    OPERATION_MODE = "operation_mode"
    EXPORT_RULE = "export_rule"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# What each intent wants. A tariff want is built by the reconcile (it depends on prices or on
# the tariff saved before a takeover); modes and rules are fixed values.
WANTS: dict[IntentKind, frozenset[Setting]] = {
    IntentKind.FORCE_DISCHARGE: frozenset(Setting),
    IntentKind.SPIKE: frozenset(Setting),
    IntentKind.CURTAILMENT: frozenset({Setting.EXPORT_RULE}),
    IntentKind.HOUSEHOLD_HOLD: frozenset({Setting.TARIFF}),
    IntentKind.FORCE_TOGGLE: frozenset({Setting.OPERATION_MODE}),
    IntentKind.ROUTINE: frozenset({Setting.TARIFF}),
}
VALUES: dict[tuple[IntentKind, Setting], str] = {
    (IntentKind.FORCE_DISCHARGE, Setting.OPERATION_MODE): "autonomous",
    (IntentKind.FORCE_DISCHARGE, Setting.EXPORT_RULE): "battery_ok",
    (IntentKind.SPIKE, Setting.OPERATION_MODE): "autonomous",
    (IntentKind.SPIKE, Setting.EXPORT_RULE): "battery_ok",
    (IntentKind.CURTAILMENT, Setting.EXPORT_RULE): "never",
    (IntentKind.FORCE_TOGGLE, Setting.OPERATION_MODE): "self_consumption",
}


@dataclass(frozen=True)
class Winners:
    """Per setting, the intent that decides it (None: no intent wants it)."""

    tariff: Intent | None
    operation_mode: Intent | None
    export_rule: Intent | None

    def of(self, setting: Setting) -> Intent | None:
        winner: Intent | None = getattr(self, setting.value)
        return winner

    def waiting(self, intents: Iterable[Intent]) -> list[Intent]:
        """Active intents that decide no setting now (they wait behind a higher one)."""
        deciding = {id(w) for w in (self.tariff, self.operation_mode, self.export_rule) if w}
        return [intent for intent in intents if id(intent) not in deciding]


def winners(intents: Iterable[Intent], *, now: dt.datetime) -> Winners:
    """The highest-priority live intent wanting each setting (expired intents count as ended)."""
    live = sorted(
        (i for i in intents if not i.expired(now) and i.kind in WANTS), key=lambda i: i.rank
    )

    def first(setting: Setting) -> Intent | None:
        return next((i for i in live if setting in WANTS[i.kind]), None)

    return Winners(
        tariff=first(Setting.TARIFF),
        operation_mode=first(Setting.OPERATION_MODE),
        export_rule=first(Setting.EXPORT_RULE),
    )


def value_of(intent: Intent, setting: Setting) -> str:
    """The operation mode or export rule ``intent`` wants."""
    return VALUES[(intent.kind, setting)]
