"""The automations' old flags become intents; what they saved becomes the household's values.

Before: spike_active / force_discharge_until / curtailment_active on the automation state, with
the household's mode and rule saved beside them. After: one intent row per automation that is
on, owners of each Powerwall setting, and the household's values to give back. Sites with an
automation in force are marked unsure, so their first reconcile reads the Powerwall back.
"""

import datetime as dt
import math
from decimal import Decimal

from django.db import migrations

ROUTINE_PUSH_REASONS = ("forecast", "settled", "manual")
RANKED = ("force_discharge", "spike", "curtailment", "household_hold", "force_toggle", "routine")


def _half_hour(moment):
    return moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)


def forwards(apps, schema_editor):
    AutomationState = apps.get_model("automations", "AutomationState")
    SiteIntent = apps.get_model("automations", "SiteIntent")
    TariffPush = apps.get_model("tariffs", "TariffPush")
    now = dt.datetime.now(dt.UTC)
    for state in AutomationState.objects.select_related("site").iterator():
        site = state.site
        intents = []
        if site.tou_sync_enabled:
            intents.append(("routine", state.last_sync_at or now, None, "Your tariff follows live prices.", {}))
        if state.spike_active:
            threshold = site.spike_threshold_dollars_per_mwh
            sell = max(threshold / 1000, Decimal("1.00")).quantize(Decimal("0.0001"))
            window = state.spike_tariff_half_hour or _half_hour(now)
            data = {
                "region": site.aemo_region,
                "rrp_dollars_per_mwh": str(threshold),
                "threshold_dollars_per_mwh": str(threshold),
                "calm_below_dollars_per_mwh": str((threshold * Decimal("0.9")).quantize(Decimal("0.01"))),
                "sell_dollars_per_kwh": str(sell),
                "window_start": window.astimezone(dt.UTC).isoformat(),
                "periods": 2,
            }
            intents.append(("spike", state.spike_started_at or now, None, "AEMO spike (in force before the upgrade)", data))
        until = state.force_discharge_until
        if until is not None and until > now:
            minutes = max(1, math.ceil((until - now).total_seconds() / 60))
            data = {
                "minutes": minutes,
                "sell_dollars_per_kwh": "2.00",
                "window_start": now.isoformat(),
                "periods": min(48, math.ceil((now.minute % 30 + minutes) / 30)),
            }
            intents.append(("force_discharge", now, until, f"Force discharge until {until:%H:%M} UTC", data))
        if state.curtailment_active:
            data = {"earnings_c_per_kwh": "0", "interval_end": ""}
            intents.append(("curtailment", state.curtailment_since or now, None, "Exporting earns nothing (in force before the upgrade)", data))
        for kind, since, until, why, data in intents:
            SiteIntent.objects.update_or_create(
                site_id=site.pk,
                kind=kind,
                defaults={"active": True, "since": since, "until": until, "why": why, "data": data},
            )
        kinds = {kind for kind, *_ in intents}
        override = next((k for k in ("force_discharge", "spike") if k in kinds), "")
        last = (
            TariffPush.objects.filter(site_id=site.pk, status="confirmed")
            .order_by("-created_at", "-id")
            .values_list("fingerprint", "reason")
            .first()
        )
        routine_owner = "routine" if last and last[1] in ROUTINE_PUSH_REASONS else ""
        curtailed = "curtailment" if state.curtailment_active else ""
        AutomationState.objects.filter(pk=state.pk).update(
            held_tariff_fingerprint=last[0] if last else "",
            held_unsure=bool(override or curtailed),
            tariff_owner=override or routine_owner,
            operation_mode_owner=override,
            export_rule_owner=override or curtailed,
            household_operation_mode=state.saved_operation_mode,
            household_export_rule=state.curtailment_saved_export_rule or state.saved_export_rule,
            tariff_backup_id=state.saved_profile_id,
            in_step=not (override or curtailed),
            intent_kinds=",".join(k for k in RANKED if k in kinds),
        )


class Migration(migrations.Migration):

    dependencies = [
        ("automations", "0002_intents_and_held_state"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
