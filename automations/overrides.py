"""The export tariffs of a spike or force discharge, and the tariff they replace.

When a spike or force discharge first takes the tariff, the tariff the Powerwall holds is saved
as a profile (pre_spike / pre_discharge): the household keeps it, the export tariff is built on
its rates (only the export window changes), and a site without live price sync gets it back when
the takeover ends. A tariff of our own takeovers is never saved as that backup (after a crash
between a push and its record, the last routine tariff is saved instead).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from automations.intents import Intent
from automations.models import IntentKind
from devices.models import Site
from tariffs.engine.custom_tou import half_hour_rates_for
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.model import HalfHourRates
from tariffs.engine.overrides import export_window_rates
from tariffs.engine.tesla_format import parse_tariff_content_v2, render_half_hour_tariff
from tariffs.models import TariffPush, TouProfile
from tariffs.stored_rates import rates_from_json

PUSH_REASON = {
    IntentKind.SPIKE: TariffPush.Reason.SPIKE,
    IntentKind.FORCE_DISCHARGE: TariffPush.Reason.FORCE_DISCHARGE,
}
PLAN_NAMES = {
    IntentKind.SPIKE: "PowerSync spike export",
    IntentKind.FORCE_DISCHARGE: "PowerSync force discharge",
}
BACKUP_KIND = {
    IntentKind.SPIKE: TouProfile.Kind.PRE_SPIKE,
    IntentKind.FORCE_DISCHARGE: TouProfile.Kind.PRE_DISCHARGE,
}
RESTORE_REASON = {
    IntentKind.SPIKE: TariffPush.Reason.SPIKE_RESTORE,
    IntentKind.FORCE_DISCHARGE: TariffPush.Reason.RESTORE,
}
OVERRIDE_PUSH_REASONS = tuple(PUSH_REASON.values())


def is_override_tariff(site: Site, fingerprint: str) -> bool:
    return TariffPush.objects.filter(
        site=site, reason__in=OVERRIDE_PUSH_REASONS, fingerprint=fingerprint
    ).exists()


def confirmed_content(site: Site, fingerprint: str) -> dict[str, Any] | None:
    """The content of a push of ours Tesla confirmed holding with this fingerprint."""
    content: dict[str, Any] | None = (
        TariffPush.objects.filter(
            site=site, status=TariffPush.Status.CONFIRMED, fingerprint=fingerprint
        )
        .order_by("-created_at", "-id")
        .values_list("tariff_content", flat=True)
        .first()
    )
    return content


def last_routine_tariff(site: Site) -> dict[str, Any] | None:
    content: dict[str, Any] | None = (
        TariffPush.objects.filter(site=site, status=TariffPush.Status.CONFIRMED)
        .exclude(reason__in=OVERRIDE_PUSH_REASONS)
        .order_by("-created_at", "-id")
        .values_list("tariff_content", flat=True)
        .first()
    )
    return content


def backup_save(
    site: Site,
    *,
    held: dict[str, Any] | None,
    kind: IntentKind,
    now: dt.datetime,
    save: bool,
    held_fingerprint: str = "",
) -> TouProfile | None:
    """The tariff the Powerwall holds before ``kind`` takes it over, as a profile (None: no
    tariff); stored when ``save`` (a paused site only plans with it). ``held_fingerprint``:
    ``held``'s fingerprint when the caller has it (a read-back computed it)."""
    fingerprint = (held_fingerprint or tariff_fingerprint(held)) if held else ""
    if fingerprint and is_override_tariff(site, fingerprint):
        held = last_routine_tariff(site)
        fingerprint = tariff_fingerprint(held) if held else ""
    if not held:
        return None
    local = now.astimezone(site.zone)
    backup = TouProfile(
        household_id=site.household_id,
        site=site,
        name=f"Before {IntentKind(kind).label.lower()} {local:%Y-%m-%d %H:%M}",
        kind=BACKUP_KIND[kind],
        tariff_content=held,
        fingerprint=fingerprint,
    )
    if save:
        backup.save()
    return backup


def tariff_rates(site: Site, backup: TouProfile, day: dt.date) -> HalfHourRates:
    """The 48 half-hours of the backup on ``day``. When we pushed the same tariff ourselves
    from 48 half-hours (a sync's tariff is the same every day), those are read from the push
    instead of parsing the tariff: one indexed query instead of ~2 ms of parsing."""
    if backup.fingerprint:
        stored = (
            TariffPush.objects.filter(
                site=site, fingerprint=backup.fingerprint, half_hour_rates__isnull=False
            )
            .values_list("half_hour_rates", flat=True)
            .first()
        )
        if stored:
            return rates_from_json(stored)
    return half_hour_rates_for(parse_tariff_content_v2(backup.tariff_content), day)


@dataclass(frozen=True)
class ExportTariff:
    content: dict[str, Any]
    rates: HalfHourRates
    fingerprint: str


def export_tariff(site: Site, intent: Intent, backup: TouProfile) -> ExportTariff:
    """The export tariff ``intent`` (spike or force discharge) wants: the backup's rates with
    its window exporting. The window starts at ``data["window_start"]`` (the spike refreshes it
    each half-hour; a force discharge keeps its own)."""
    start = dt.datetime.fromisoformat(intent.data["window_start"]).astimezone(site.zone)
    base = tariff_rates(site, backup, start.date())
    rates = export_window_rates(
        base,
        start_index=start.hour * 2 + start.minute // 30,
        periods=int(intent.data["periods"]),
        sell_dollars_per_kwh=Decimal(intent.data["sell_dollars_per_kwh"]),
    )
    content = render_half_hour_tariff(rates, plan_name=PLAN_NAMES[intent.kind], utility="PowerSync")
    return ExportTariff(content, rates, tariff_fingerprint(content))
