"""What a reconcile would send: the steps that take a Powerwall from what it holds to what the
winning intents want (automations/desired.py), and the bookkeeping when nothing needs sending.

A step names the setting, the value, the intent that wants it (``HOUSEHOLD`` when the household's
own value comes back) and why. Steps come in the order of ``Setting``: tariff, operation mode,
export rule. Only values that differ from what the Powerwall holds become steps (one exception,
SPEC §5: curtailment taking an export rule that is already ``never`` sends ``pv_only`` then
``never`` so the Powerwall applies it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from automations.desired import Setting, Winners, value_of
from automations.intents import OVERRIDES, Intent
from automations.models import AutomationState, IntentKind
from automations.overrides import PUSH_REASON, RESTORE_REASON, export_tariff
from tariffs.engine.model import HalfHourRates
from tariffs.models import TariffPush, TouProfile

HOLD_REASON = {"profile": TariffPush.Reason.PROFILE, "plan": TariffPush.Reason.CUSTOM}


@dataclass(frozen=True)
class TariffSend:
    content: dict[str, Any]
    fingerprint: str
    reason: str  # a TariffPush.Reason
    rates: HalfHourRates | None = None


@dataclass(frozen=True)
class Step:
    setting: Setting
    intent: IntentKind  # HOUSEHOLD: the household's own value comes back
    value: str  # the mode or rule; for the tariff, its fingerprint
    why: str
    tariff: TariffSend | None = None

    @property
    def key(self) -> str:
        return f"{self.setting}={self.value[:12]}@{self.intent}"

    def describe(self) -> str:
        what = {
            Setting.TARIFF: "push the tariff",
            Setting.OPERATION_MODE: f"set the operation mode to {self.value}",
            Setting.EXPORT_RULE: f"set the export rule to {self.value}",
        }[self.setting]
        return f"{what} ({IntentKind(self.intent).label.lower()})"


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    # AutomationState fields to record when nothing is sent for a setting (who owns it now).
    changes: dict[str, Any] = field(default_factory=dict)


OWNER_FIELD = {
    Setting.TARIFF: "tariff_owner",
    Setting.OPERATION_MODE: "operation_mode_owner",
    Setting.EXPORT_RULE: "export_rule_owner",
}
HELD_FIELD = {
    Setting.TARIFF: "held_tariff_fingerprint",
    Setting.OPERATION_MODE: "held_operation_mode",
    Setting.EXPORT_RULE: "held_export_rule",
}
HOUSEHOLD_FIELD = {
    Setting.OPERATION_MODE: "household_operation_mode",
    Setting.EXPORT_RULE: "household_export_rule",
}


def owner_of(state: AutomationState, setting: Setting) -> str:
    owner: str = getattr(state, OWNER_FIELD[setting])
    return owner


def held_of(state: AutomationState, setting: Setting) -> str:
    held: str = getattr(state, HELD_FIELD[setting])
    return held


def setting_steps(state: AutomationState, winners: Winners, setting: Setting) -> Plan:
    """Steps for the operation mode or the export rule."""
    plan = Plan()
    held, owner = held_of(state, setting), owner_of(state, setting)
    winner = winners.of(setting)
    if winner is not None:
        want, intent, why = value_of(winner, setting), winner.kind, winner.why
    elif owner:
        want = getattr(state, HOUSEHOLD_FIELD[setting])
        intent, why = IntentKind.HOUSEHOLD, f"{IntentKind(owner).label} ended: yours again"
        if not want:  # the household's value was never known: leave the setting as it is
            plan.changes[OWNER_FIELD[setting]] = ""
            return plan
    else:
        return plan
    if held == want:
        nudge = (
            setting == Setting.EXPORT_RULE
            and intent == IntentKind.CURTAILMENT
            and owner == ""
            and want == "never"
        )
        if not nudge:
            plan.changes[OWNER_FIELD[setting]] = "" if intent == IntentKind.HOUSEHOLD else intent
            return plan
        # SPEC §5: Tesla already says never; pv_only first, so never takes.
        plan.steps.append(Step(setting, intent, "pv_only", f"{why}; Tesla already says never"))
    plan.steps.append(Step(setting, intent, want, why))
    return plan


def restore_step(state: AutomationState, backup: TouProfile) -> Step | None:
    """The tariff saved before a takeover, back on a site no tariff intent wants any more."""
    if backup.fingerprint and backup.fingerprint == state.held_tariff_fingerprint:
        return None
    owner = IntentKind(state.tariff_owner)
    return Step(
        Setting.TARIFF,
        IntentKind.HOUSEHOLD,
        backup.fingerprint,
        f"{owner.label} ended: the tariff you had before it",
        TariffSend(backup.tariff_content, backup.fingerprint, RESTORE_REASON[owner]),
    )


def hold_step(state: AutomationState, hold: Intent) -> Step | None:
    fingerprint = str(hold.data["fingerprint"])
    if fingerprint == state.held_tariff_fingerprint:
        return None
    return Step(
        Setting.TARIFF,
        IntentKind.HOUSEHOLD_HOLD,
        fingerprint,
        hold.why,
        TariffSend(hold.data["tariff"], fingerprint, HOLD_REASON[str(hold.data.get("source"))]),
    )


def override_step(
    state: AutomationState, site: Any, override: Intent, backup: TouProfile
) -> Step | None:
    built = export_tariff(site, override, backup)
    if built.fingerprint == state.held_tariff_fingerprint:
        return None
    return Step(
        Setting.TARIFF,
        override.kind,
        built.fingerprint,
        override.why,
        TariffSend(built.content, built.fingerprint, PUSH_REASON[override.kind], built.rates),
    )


def is_override(kind: str) -> bool:
    return kind in OVERRIDES
