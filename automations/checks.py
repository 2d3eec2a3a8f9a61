"""Checks: an automation's look at one new price (a spike check, a curtailment check), run by
the site's reconcile pass (automations/reconcile.py) under its lock, before it plans.

A check reads what the pass has loaded (the site, its state, its credentials, its active
intents), advances its own state machine, and sets or clears its intent through the pass's
``SiteIntents``. The pass then goes on from the changed intents without reading them again, or
stops at once when the check changed nothing and the Powerwall is in step already.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from automations.intents import SiteIntents
from automations.models import AutomationState
from credentials.models import SiteCredentials
from devices.models import Site


@dataclass(frozen=True)
class CheckContext:
    site: Site
    state: AutomationState
    credentials: SiteCredentials | None
    intents: SiteIntents
    now: dt.datetime


@dataclass(frozen=True)
class Checked:
    """What a check did (its own word for it, e.g. "started", "holding") and whether it
    changed an intent."""

    what: str
    changed: bool


class Check(Protocol):
    def run(self, context: CheckContext) -> Checked: ...


def state_update(state: AutomationState, **values: Any) -> None:
    """Write ``values`` to the site's state row, and to the caller's copy of it (a check's calm
    count, the reconcile's staged record)."""
    AutomationState.objects.filter(pk=state.pk).update(**values)
    for name, value in values.items():
        setattr(state, name, value)
