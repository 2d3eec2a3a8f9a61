"""Putting a tariff on a Powerwall: push, then read site_info back and compare fingerprints.

A push is CONFIRMED only when Tesla's read-back carries the same tariff (tariffs.engine.fingerprint
ignores labels and number formatting); anything else is a MISMATCH, recorded as an event so the
sync can try again — never silence.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from devices.commands import tesla_command_run
from devices.models import DeviceCommand, Site
from devices.providers.tesla import TeslaEnergyClient, TeslaError
from households.models import Event
from households.services import event_record
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.model import HalfHourRates
from tariffs.engine.tesla_format import validate_tariff_content_v2
from tariffs.models import TariffPush

_AUTOMATION_FOR_REASON: dict[str, str] = {
    TariffPush.Reason.SPIKE: Event.Automation.SPIKE,
    TariffPush.Reason.SPIKE_RESTORE: Event.Automation.SPIKE,
    TariffPush.Reason.FORCE_DISCHARGE: Event.Automation.FORCE_DISCHARGE,
    TariffPush.Reason.RESTORE: Event.Automation.FORCE_DISCHARGE,
}


def tariff_push(
    *,
    site: Site,
    client: TeslaEnergyClient,
    content: dict[str, Any],
    reason: str,
    why: str,
    rates: HalfHourRates | None = None,
) -> TariffPush:
    """Send ``content`` to the site's Powerwall and verify it. Tesla errors are recorded on the
    push and the command, then re-raised for the caller's retry policy. ``rates``: the 48
    half-hours ``content`` was rendered from, kept for cheap comparisons by the next sync."""
    fingerprint = tariff_fingerprint(content)
    push = TariffPush.objects.create(
        site=site,
        tariff_content=content,
        fingerprint=fingerprint,
        reason=reason,
        half_hour_rates=rates_to_json(rates) if rates else None,
    )
    automation = _AUTOMATION_FOR_REASON.get(reason, str(Event.Automation.TOU_SYNC))
    energy_site_id = int(site.tesla_energy_site_id)
    try:
        _command, result = tesla_command_run(
            site=site,
            kind=DeviceCommand.Kind.TARIFF,
            payload={"push_id": push.pk, "fingerprint": fingerprint},
            reason=why,
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
            decision="Tesla refused the tariff",
            reason=push.detail,
            outcome=Event.Outcome.FAILED,
            data={"push_id": push.pk},
        )
        return push

    held = client.site_info(energy_site_id).tariff_content_v2
    push.verified_at = timezone.now()
    # Tesla normally echoes the tariff as sent: identical content needs no fingerprint.
    if held == content or (held and tariff_fingerprint(held) == fingerprint):
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
        decision=decision,
        reason=why,
        outcome=outcome,
        data={"push_id": push.pk, "fingerprint": fingerprint[:12]},
    )
    return push


def tariff_push_request(
    *, site: Site, tariff_content: dict[str, Any], reason: str, why: str
) -> None:
    """Queue a push of ``tariff_content`` (a saved profile, a custom plan) to the site's Powerwall
    once the current transaction commits. Raises ``TariffInvalid`` at once for a tariff Tesla
    would refuse. With live TOU sync on, the next routine sync replaces it with live prices."""
    validate_tariff_content_v2(tariff_content)
    from tasks.sync import push_tariff

    site_id = site.pk
    # Atomic: outside a caller's transaction, on_commit would queue (or, eagerly, run) the push
    # before the request is logged, and the log would show the push ahead of its request.
    with transaction.atomic():
        event_record(
            household_id=site.household_id,
            site_id=site_id,
            automation=Event.Automation.TOU_SYNC,
            decision="Tariff push requested",
            reason=why,
            data={"fingerprint": tariff_fingerprint(tariff_content)[:12]},
        )
        transaction.on_commit(
            lambda: push_tariff.apply_async((site_id, tariff_content, reason, why), queue="sync")
        )


def rates_to_json(rates: HalfHourRates) -> list[list[str]]:
    return [
        [str(v) for v in rates.buy_dollars_per_kwh],
        [str(v) for v in rates.sell_dollars_per_kwh],
    ]


def rates_from_json(raw: list[list[str]]) -> HalfHourRates:
    buy, sell = raw
    return HalfHourRates(tuple(map(Decimal, buy)), tuple(map(Decimal, sell)))
