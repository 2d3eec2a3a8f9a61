"""The only code that writes to a Powerwall. Only automations/reconcile.py may import it (an
import-linter contract holds it to that), so every write comes from a site's reconcile.

Every command is recorded (what, why, for which intent, result, latency) before and after the
call, whatever happens; a tariff is confirmed by reading it back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from django.utils import timezone

from automations.intents import AUTOMATION_OF
from automations.models import IntentKind
from devices.models import DeviceCommand, Site
from devices.providers.tesla import (
    CommandResult,
    ExportRule,
    OperationMode,
    TeslaEnergyClient,
    TeslaError,
)
from households.models import Event
from households.services import event_record
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.model import HalfHourRates
from tariffs.models import TariffPush
from tariffs.stored_rates import rates_to_json


def tesla_command_run(
    *,
    site: Site,
    kind: str,
    payload: dict[str, Any],
    reason: str,
    intent: IntentKind,
    call: Callable[[], CommandResult],
) -> tuple[DeviceCommand, CommandResult]:
    """Record, send, record the outcome. Tesla errors are recorded and then re-raised."""
    command = DeviceCommand.objects.create(
        site=site, kind=kind, payload=payload, reason=reason[:200], intent=intent
    )
    started = time.monotonic()
    try:
        result = call()
    except TeslaError as exc:
        DeviceCommand.objects.filter(pk=command.pk).update(
            status=DeviceCommand.Status.FAILED,
            http_status=exc.http_status,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        raise
    command.status = (
        DeviceCommand.Status.SUCCEEDED if result.result else DeviceCommand.Status.FAILED
    )
    command.http_status = result.http_status
    command.latency_ms = int(result.latency_ms)
    command.response = {"result": result.result, "reason": result.reason}
    command.save(update_fields=["status", "http_status", "latency_ms", "response"])
    return command, result


def setting_set(
    *, site: Site, client: TeslaEnergyClient, setting: str, value: str, intent: IntentKind, why: str
) -> bool:
    """Set the operation mode (``setting`` "operation_mode") or the export rule
    ("export_rule"). True if Tesla accepted it; Tesla errors propagate."""
    energy_site_id = int(site.tesla_energy_site_id)
    call: Callable[[], CommandResult]
    if setting == DeviceCommand.Kind.OPERATION_MODE:
        call = partial(client.set_operation_mode, energy_site_id, cast(OperationMode, value))
    elif setting == DeviceCommand.Kind.EXPORT_RULE:
        call = partial(
            client.set_grid_import_export, energy_site_id, export_rule=cast(ExportRule, value)
        )
    else:
        raise ValueError(f"not a setting the reconcile sets: {setting!r}")
    _, result = tesla_command_run(
        site=site, kind=setting, payload={setting: value}, reason=why, intent=intent, call=call
    )
    return result.result


@dataclass(frozen=True)
class PushResult:
    """A push and what the read-back found Tesla holding (its fingerprint; "" if unread)."""

    push: TariffPush
    held_fingerprint: str


def tariff_push(
    *,
    site: Site,
    client: TeslaEnergyClient,
    content: dict[str, Any],
    reason: str,
    why: str,
    intent: IntentKind,
    rates: HalfHourRates | None = None,
    fingerprint: str = "",
) -> PushResult:
    """Send ``content`` to the site's Powerwall and verify it by reading it back.

    CONFIRMED only when the read-back carries the same tariff (the fingerprint ignores labels
    and number formatting); anything else is a MISMATCH, recorded as an event. Tesla errors are
    recorded on the push and the command, then re-raised for the caller's retry policy.
    ``rates``: the 48 half-hours ``content`` was rendered from, kept for cheap comparisons.
    """
    fingerprint = fingerprint or tariff_fingerprint(content)
    push = TariffPush.objects.create(
        site=site,
        tariff_content=content,
        fingerprint=fingerprint,
        reason=reason,
        half_hour_rates=rates_to_json(rates) if rates else None,
    )
    automation = AUTOMATION_OF[intent]
    energy_site_id = int(site.tesla_energy_site_id)
    try:
        _command, result = tesla_command_run(
            site=site,
            kind=DeviceCommand.Kind.TARIFF,
            payload={"push_id": push.pk, "fingerprint": fingerprint},
            reason=why,
            intent=intent,
            call=lambda: client.set_time_of_use_settings(energy_site_id, content),
        )
    except TeslaError as exc:  # recorded on the push, then re-raised unchanged
        TariffPush.objects.filter(pk=push.pk).update(
            status=TariffPush.Status.FAILED, detail=f"{type(exc).__name__}: {exc}"[:2000]
        )
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=automation,
            intent=intent,
            decision="Tariff push failed",
            reason=f"{why}. Tesla: {type(exc).__name__}",
            outcome=Event.Outcome.FAILED,
            data={"push_id": push.pk},
        )
        raise
    push.pushed_at = timezone.now()
    push.tesla_response = {"result": result.result, "reason": result.reason}
    if not result.result:
        push.status = TariffPush.Status.FAILED
        push.detail = f"Tesla did not apply the tariff: {result.reason}"[:2000]
        push.save(update_fields=["pushed_at", "tesla_response", "status", "detail"])
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=automation,
            intent=intent,
            decision="Tesla refused the tariff",
            reason=push.detail,
            outcome=Event.Outcome.FAILED,
            data={"push_id": push.pk},
        )
        return PushResult(push, "")

    held = client.site_info(energy_site_id).tariff_content_v2
    push.verified_at = timezone.now()
    # Tesla normally echoes the tariff as sent: identical content needs no fingerprint.
    held_fingerprint = fingerprint if held == content else tariff_fingerprint(held) if held else ""
    if held_fingerprint == fingerprint:
        push.status = TariffPush.Status.CONFIRMED
        decision, outcome = "Tariff pushed and confirmed", Event.Outcome.OK
    else:
        push.status = TariffPush.Status.MISMATCH
        push.detail = "Tesla's read-back differs from the tariff sent"
        decision, outcome = "Tariff pushed but the read-back differs", Event.Outcome.FAILED
    push.save(update_fields=["pushed_at", "tesla_response", "status", "detail", "verified_at"])
    event_record(
        household_id=site.household_id,
        site_id=site.pk,
        automation=automation,
        intent=intent,
        decision=decision,
        reason=why,
        outcome=outcome,
        data={"push_id": push.pk, "fingerprint": fingerprint[:12]},
    )
    return PushResult(push, held_fingerprint)
