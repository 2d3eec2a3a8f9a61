"""Force mode toggle (opt-in, ``Site.force_mode_toggle_enabled``): after a tariff push made from
SETTLED prices and confirmed by read-back, switch the Powerwall to ``self_consumption`` and, 5 s
later, back to ``autonomous``, so it re-plans against the tariff it now holds.

- At most once per 5-minute interval per site: the interval is claimed by compare-and-set on
  ``AutomationState.force_toggle_interval_start`` before any command, so duplicate deliveries and
  the second settled push of an interval send nothing.
- The way back is a task scheduled 5 s ahead (tasks.curtail.toggle_end), never a sleeping worker.
  ``force_toggle_restore_due`` stays set until Tesla accepted ``autonomous``; a beat sweep
  (tasks.curtail.toggle_repair) finishes toggles whose scheduled task was lost.
- A spike or force discharge owns the operation mode: no toggle while one is active.
"""

from __future__ import annotations

import datetime as dt
import enum

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from devices.battery_override import override_active
from devices.clients import tesla_client_for
from devices.commands import tesla_command_run
from devices.curtailment import interval_start
from devices.models import AutomationState, DeviceCommand, Site
from devices.providers.tesla import OperationMode, TeslaEnergyClient, TeslaError
from households.models import Event
from households.services import event_record
from tariffs.models import TariffPush

TOGGLE_DELAY_SECONDS = 5
# A begin task queued longer than this belongs to an interval that is over: drop it.
TOGGLE_BEGIN_EXPIRES_SECONDS = 120
# The sweep finishes a toggle whose end task is this late (the scheduled one had its chance).
TOGGLE_REPAIR_AFTER = dt.timedelta(seconds=30)


class ToggleOutcome(enum.StrEnum):
    TOGGLED = "toggled"  # self_consumption sent; the end is due in TOGGLE_DELAY_SECONDS
    ALREADY_THIS_INTERVAL = "already_this_interval"
    NOT_SETTLED = "not_settled"  # the push is not a confirmed settled-price push
    FAILED = "failed"  # Tesla answered result=false; the mode did not change
    GONE = "gone"
    DISABLED = "disabled"
    PAUSED = "paused"


def _qualifying_push(site_id: int, push_id: int) -> bool:
    return TariffPush.objects.filter(
        pk=push_id,
        site_id=site_id,
        reason=TariffPush.Reason.SETTLED,
        status=TariffPush.Status.CONFIRMED,
    ).exists()


def force_toggle_after_push(*, site_id: int, push_id: int) -> None:
    """Called by the TOU sync after a push: queue the toggle (after commit) when the site opted
    in and the push was made from settled prices and confirmed. Anything else is ignored."""
    if not Site.objects.filter(pk=site_id, force_mode_toggle_enabled=True).exists():
        return
    if not _qualifying_push(site_id, push_id):
        return
    from tasks.curtail import toggle_begin

    transaction.on_commit(
        lambda: toggle_begin.apply_async((site_id, push_id), expires=TOGGLE_BEGIN_EXPIRES_SECONDS)
    )


def _set_mode(site: Site, client: TeslaEnergyClient, mode: OperationMode, *, reason: str) -> bool:
    energy_site_id = int(site.tesla_energy_site_id)
    _, result = tesla_command_run(
        site=site,
        kind=DeviceCommand.Kind.OPERATION_MODE,
        payload={"operation_mode": mode},
        reason=reason,
        call=lambda: client.set_operation_mode(energy_site_id, mode),
    )
    return result.result


def force_toggle_begin(
    *, site_id: int, push_id: int, now: dt.datetime | None = None
) -> ToggleOutcome:
    """Claim this interval and switch to self_consumption. The caller schedules the end.

    Tesla errors propagate with ``force_toggle_restore_due`` left set (the command may have
    reached the battery), so the repair sweep still brings it back to autonomous.
    """
    moment = now or timezone.now()
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return ToggleOutcome.GONE
    if not site.force_mode_toggle_enabled:
        return ToggleOutcome.DISABLED
    if site.needs_reauthorisation:
        return ToggleOutcome.PAUSED
    state, _ = AutomationState.objects.get_or_create(site=site)
    if override_active(state, now=moment):
        return ToggleOutcome.PAUSED
    if not _qualifying_push(site_id, push_id):
        return ToggleOutcome.NOT_SETTLED
    client = tesla_client_for(site)  # before the claim: missing credentials claim nothing
    interval = interval_start(moment)
    claimed = (
        AutomationState.objects.filter(pk=state.pk)
        .filter(
            Q(force_toggle_interval_start__isnull=True)
            | Q(force_toggle_interval_start__lt=interval)
        )
        .update(
            force_toggle_interval_start=interval,
            force_toggle_restore_due=moment + dt.timedelta(seconds=TOGGLE_DELAY_SECONDS),
        )
    )
    if not claimed:
        return ToggleOutcome.ALREADY_THIS_INTERVAL
    if not _set_mode(
        site,
        client,
        "self_consumption",
        reason=f"Force mode toggle after settled push #{push_id}: self-consumption for "
        f"{TOGGLE_DELAY_SECONDS} s",
    ):
        AutomationState.objects.filter(pk=state.pk).update(force_toggle_restore_due=None)
        return ToggleOutcome.FAILED
    return ToggleOutcome.TOGGLED


def force_toggle_end(*, site_id: int) -> bool:
    """Back to autonomous, once per toggle. Returns True if this call finished a toggle.

    The pending toggle is claimed by compare-and-set before the command (a duplicate end task
    sends nothing) and handed back if Tesla fails, for the retry or the repair sweep.
    """
    state = AutomationState.objects.filter(site_id=site_id).select_related("site").first()
    if state is None or state.force_toggle_restore_due is None:
        return False
    due = state.force_toggle_restore_due
    if not AutomationState.objects.filter(pk=state.pk, force_toggle_restore_due=due).update(
        force_toggle_restore_due=None
    ):
        return False
    site = state.site
    try:
        accepted = _set_mode(
            site,
            tesla_client_for(site),
            "autonomous",
            reason="Force mode toggle: back to autonomous",
        )
    except TeslaError:
        _hand_back(state.pk, due)
        raise
    if not accepted:
        _hand_back(state.pk, due)
        return False
    event_record(
        household_id=site.household_id,
        site_id=site.pk,
        automation=Event.Automation.FORCE_TOGGLE,
        decision="Operation mode toggled after a settled-price push",
        reason=f"Self-consumption for {TOGGLE_DELAY_SECONDS} s, then autonomous, so the "
        "Powerwall re-plans against the tariff it now holds.",
        data={"interval_start": (state.force_toggle_interval_start or due).isoformat()},
    )
    return True


def _hand_back(state_pk: int, due: dt.datetime) -> None:
    AutomationState.objects.filter(pk=state_pk, force_toggle_restore_due__isnull=True).update(
        force_toggle_restore_due=due
    )


def sites_with_overdue_toggle(*, now: dt.datetime) -> list[int]:
    return list(
        AutomationState.objects.filter(
            force_toggle_restore_due__lte=now - TOGGLE_REPAIR_AFTER,
            site__needs_reauthorisation=False,
        ).values_list("site_id", flat=True)
    )
