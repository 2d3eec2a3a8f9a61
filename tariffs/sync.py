"""TOU sync: keep the tariff a Powerwall holds in step with the site's prices.

One run for one site: take the site's sync lock (one run in flight per site), fetch prices, build
the tariff, and push it only when the change matters (tolerances below), then verify by read-back.
Never pushes from stale or missing prices (the engine refuses; the refusal is recorded). While a
spike response or a force discharge owns the battery, routine syncs stand aside.

Change rule: push when the current or next half-hour moves by more than SYNC_TOLERANCE_C_PER_KWH,
or any half-hour of the day moves by more than SYNC_WIDE_TOLERANCE_C_PER_KWH; identical tariffs
never push. Skips are kept on the site's automation state (not as events: one every 5 minutes
would drown the log); refusals and budget stops are events when they start.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from credentials.models import SiteCredentials
from devices.clients import tesla_client_for
from devices.commands import write_budget_left
from devices.force_toggle import force_toggle_after_push
from devices.models import AutomationState, Site
from households.models import Event
from households.services import event_record
from pricing.clients import aemo_client, amber_client
from pricing.providers.amber.models import PriceInterval
from pricing.selectors import aemo_prices_for_engine, forecast_calibration_for
from pricing.services import aemo_series_store, amber_intervals_store
from tariffs.engine.calibration import ForecastCalibration, sample_window
from tariffs.engine.custom_tou import half_hour_rates_for
from tariffs.engine.fingerprint import change_matters, tariff_fingerprint
from tariffs.engine.freshness import Refused
from tariffs.engine.model import HalfHourRates
from tariffs.engine.tesla_format import parse_tariff_content_v2
from tariffs.models import TariffPush
from tariffs.push import rates_from_json, tariff_push
from tariffs.site_tariff import (
    SiteTariff,
    aemo_site_tariff,
    amber_site_tariff,
    current_half_hour_index,
    custom_site_tariff,
)
from tasks.locks import site_lock

logger = logging.getLogger(__name__)

SYNC_LOCK_TTL_SECONDS = 120  # > one run: Amber fetch + push + read-back with their timeouts
ROUTINE_REASONS = {TariffPush.Reason.FORECAST, TariffPush.Reason.SETTLED}


class SyncOutcome(enum.StrEnum):
    PUSHED = "pushed"
    MISMATCH = "mismatch"
    FAILED = "failed"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    BUSY = "busy"
    GONE = "gone"
    DISABLED = "disabled"
    PAUSED = "paused"
    NO_BUDGET = "no_budget"
    ALREADY_FRESH = "already_fresh"


def _record_state(site: Site, outcome: SyncOutcome, detail: str, *, at: dt.datetime) -> str:
    """Save the outcome on the site's automation state (one UPDATE when the state was loaded with
    the site); return the previous outcome."""
    state = getattr(site, "automation_state", None)
    if state is None:
        state, _ = AutomationState.objects.get_or_create(site=site)
        site.automation_state = state
    previous = state.last_sync_outcome
    AutomationState.objects.filter(pk=state.pk).update(
        last_sync_at=at, last_sync_outcome=outcome, last_sync_detail=detail[:300]
    )
    state.last_sync_outcome = outcome
    return previous


def held_rates(site: Site, *, now: dt.datetime) -> HalfHourRates | None:
    """The rates of the last tariff Tesla confirmed holding, as 48 half-hours of today."""
    confirmed = TariffPush.objects.filter(site=site, status=TariffPush.Status.CONFIRMED)
    last = confirmed.order_by("-created_at", "-id").values_list("pk", "half_hour_rates").first()
    if last is None:
        return None
    if last[1]:
        return rates_from_json(last[1])
    content = confirmed.filter(pk=last[0]).values_list("tariff_content", flat=True).get()
    return half_hour_rates_for(parse_tariff_content_v2(content), now.astimezone(site.zone).date())


def held_fingerprint(site: Site) -> str:
    """Fingerprint of the last tariff Tesla confirmed holding ("" if none)."""
    fingerprint: str = (
        TariffPush.objects.filter(site=site, status=TariffPush.Status.CONFIRMED)
        .order_by("-created_at", "-id")
        .values_list("fingerprint", flat=True)
        .first()
    ) or ""
    return fingerprint


def push_needed(
    previous: HalfHourRates | None, fresh: HalfHourRates, index: int
) -> tuple[bool, str]:
    """The change rule of the module docstring: (push?, why)."""
    near = change_matters(
        previous,
        fresh,
        current_index=index,
        tolerance_c_per_kwh=Decimal(str(settings.SYNC_TOLERANCE_C_PER_KWH)),
        lookahead_periods=1,
    )
    if near.matters:
        return True, near.reason
    wide = change_matters(
        previous,
        fresh,
        current_index=index,
        tolerance_c_per_kwh=Decimal(str(settings.SYNC_WIDE_TOLERANCE_C_PER_KWH)),
        lookahead_periods=47,
    )
    return wide.matters, (wide.reason if wide.matters else near.reason)


# A routine sync between full stores keeps only the newest settled rows: older ones were stored
# by the syncs before it (and every full store re-covers AMBER_PREVIOUS_INTERVALS, healing gaps).
RECENT_ROWS = dt.timedelta(minutes=15)


def _intervals_to_store(
    intervals: list[PriceInterval],
    reason: str,
    now: dt.datetime,
    last_sync_at: dt.datetime | None = None,
) -> tuple[list[PriceInterval], bool]:
    """(intervals, include forecasts) to store. The first forecast sync of each half-hour, the
    first sync of a site in a half-hour whatever its time (a new site, or one back from a gap),
    and any sync on request store everything fetched (the recent actuals, the current interval,
    the forecasts); other routine syncs store the actual and current rows of the last 15
    minutes. History stays complete at a fraction of the writes."""
    half_hour_start = now.replace(minute=now.minute - now.minute % 30, second=0, microsecond=0)
    if (
        reason not in ROUTINE_REASONS
        or (reason == TariffPush.Reason.FORECAST and now.minute % 30 < 5)
        or last_sync_at is None
        or last_sync_at < half_hour_start
    ):
        return intervals, True
    since = now - RECENT_ROWS
    return [interval for interval in intervals if interval.end_time >= since], False


def site_sync(
    *,
    site_id: int,
    reason: str,
    now: dt.datetime | None = None,
    due: dt.datetime | None = None,
) -> SyncOutcome:
    """One sync of one site. Provider errors propagate (the task's retry policy decides).

    ``due``: when this sync was meant to run (the settled syncs). If the site was synced at or
    after that moment (a backlog delayed the earlier sync past it), it already saw those prices:
    nothing to do.
    """
    with site_lock("sync", site_id, ttl_seconds=SYNC_LOCK_TTL_SECONDS) as held:
        if not held:
            return SyncOutcome.BUSY
        if (
            due is not None
            and AutomationState.objects.filter(site_id=site_id, last_sync_at__gte=due).exists()
        ):
            return SyncOutcome.ALREADY_FRESH
        return _sync_locked(site_id=site_id, reason=reason, now=now or timezone.now())


def _sync_locked(*, site_id: int, reason: str, now: dt.datetime) -> SyncOutcome:
    site = (
        Site.objects.filter(pk=site_id)
        .select_related("automation_state", "custom_schedule", "credentials")
        .first()
    )
    if site is None:
        return SyncOutcome.GONE
    if not site.tou_sync_enabled and reason in ROUTINE_REASONS:
        return SyncOutcome.DISABLED
    if site.needs_reauthorisation:
        _record_state(site, SyncOutcome.PAUSED, "Tesla needs re-authorisation", at=now)
        return SyncOutcome.PAUSED
    state = getattr(site, "automation_state", None)
    if state and (state.spike_active or (state.force_discharge_until or now) > now):
        _record_state(
            site, SyncOutcome.PAUSED, "a spike or force discharge owns the tariff", at=now
        )
        return SyncOutcome.PAUSED
    try:
        creds: SiteCredentials | None = site.credentials
    except SiteCredentials.DoesNotExist:
        creds = None
    if site.price_source == Site.PriceSource.AMBER:
        if creds is None or not creds.amber_token:
            _record_state(site, SyncOutcome.PAUSED, "no Amber token", at=now)
            return SyncOutcome.PAUSED
        built = _amber_tariff(site, creds.amber_token, reason=reason, now=now)
    elif site.price_source == Site.PriceSource.AEMO:
        built = aemo_site_tariff(
            site, aemo_prices_for_engine(region=site.aemo_region, now=now), now=now
        )
    else:
        built = custom_site_tariff(site, now=now)
    if isinstance(built, Refused):
        return _refuse(site, built.reason, reason=reason, now=now)

    if site.price_source == Site.PriceSource.CUSTOM:
        # A fixed plan changes only when the household edits it: any difference matters.
        held = held_fingerprint(site)
        matters = held != tariff_fingerprint(built.content)
        why = "the plan changed" if held else "no tariff pushed before"
    else:
        index = current_half_hour_index(now.astimezone(site.zone))
        matters, why = push_needed(held_rates(site, now=now), built.rates, index)
    if not matters:
        _record_state(site, SyncOutcome.UNCHANGED, why, at=now)
        return SyncOutcome.UNCHANGED
    if reason in ROUTINE_REASONS and not write_budget_left(site_id, now=now):
        previous = _record_state(site, SyncOutcome.NO_BUDGET, why, at=now)
        if previous != SyncOutcome.NO_BUDGET:
            event_record(
                household_id=site.household_id,
                site_id=site.pk,
                automation=Event.Automation.TOU_SYNC,
                decision="Sync held back: Tesla write budget used up",
                reason=f"Prices changed ({why}) but this site reached its write budget.",
                outcome=Event.Outcome.SKIPPED,
            )
        return SyncOutcome.NO_BUDGET

    push = tariff_push(
        site=site,
        client=tesla_client_for(site, creds),
        content=built.content,
        reason=reason,
        why=f"{TariffPush.Reason(reason).label}: {why}",
        rates=built.rates,
    )
    if site.force_mode_toggle_enabled:
        force_toggle_after_push(site_id=site.pk, push_id=push.pk)
    outcome = {
        TariffPush.Status.CONFIRMED: SyncOutcome.PUSHED,
        TariffPush.Status.MISMATCH: SyncOutcome.MISMATCH,
    }.get(TariffPush.Status(push.status), SyncOutcome.FAILED)
    _record_state(site, outcome, why, at=now)
    return outcome


def _amber_tariff(site: Site, token: str, *, reason: str, now: dt.datetime) -> SiteTariff | Refused:
    intervals = amber_client(token).get_current_prices(
        site.amber_site_id,
        next_intervals=settings.AMBER_NEXT_INTERVALS,
        previous_intervals=settings.AMBER_PREVIOUS_INTERVALS,
        resolution_min=5,
    )
    state = getattr(site, "automation_state", None)
    stored, include_forecasts = _intervals_to_store(
        intervals, reason, now, state.last_sync_at if state else None
    )
    amber_intervals_store(
        amber_site_id=site.amber_site_id,
        intervals=stored,
        fetched_at=now,
        include_forecasts=include_forecasts,
    )
    calibration = None
    if site.forecast_type == Site.ForecastType.CALIBRATED:
        calibration = _site_calibration(site, now=now)
    return amber_site_tariff(site, intervals, now=now, calibration=calibration)


def _site_calibration(site: Site, *, now: dt.datetime) -> ForecastCalibration:
    """The calibrated forecast's weights. Learned once per 5-minute interval (the first sync in
    it) and kept on the automation state: the interval's later syncs have the same sample window
    (``sample_window``), so they reuse them instead of reading the price history again."""
    until = dt.datetime.fromtimestamp(sample_window(now)[1], tz=dt.UTC)
    state = getattr(site, "automation_state", None)
    if (
        state is not None
        and state.calibration_until == until
        and state.calibration_general_weight is not None
        and state.calibration_feed_in_weight is not None
    ):
        return ForecastCalibration(
            general_weight=state.calibration_general_weight,
            feed_in_weight=state.calibration_feed_in_weight,
            now_epoch_s=int(now.timestamp()),
            samples=state.calibration_samples,
        )
    calibration = forecast_calibration_for(amber_site_id=site.amber_site_id, now=now)
    if state is not None:
        learned = {
            "calibration_until": until,
            "calibration_general_weight": calibration.general_weight,
            "calibration_feed_in_weight": calibration.feed_in_weight,
            "calibration_samples": calibration.samples,
        }
        AutomationState.objects.filter(pk=state.pk).update(**learned)
        for field, value in learned.items():
            setattr(state, field, value)
    return calibration


def _refuse(site: Site, why: str, *, reason: str, now: dt.datetime) -> SyncOutcome:
    previous = _record_state(site, SyncOutcome.REFUSED, why, at=now)
    if previous != SyncOutcome.REFUSED:
        TariffPush.objects.create(
            site=site, reason=reason, status=TariffPush.Status.REFUSED, detail=why[:2000]
        )
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=Event.Automation.TOU_SYNC,
            decision="Kept the last good tariff: prices are stale or missing",
            reason=why,
            outcome=Event.Outcome.REFUSED,
        )
    logger.info("sync of site %s refused: %s", site.pk, why)
    return SyncOutcome.REFUSED


def site_sync_request(*, site_id: int, reason: str = TariffPush.Reason.MANUAL) -> None:
    """Queue a sync of one site once the current transaction commits ("sync now")."""
    from tasks.sync import sync_site

    transaction.on_commit(lambda: sync_site.apply_async((site_id, reason), queue="sync"))


def aemo_series_refresh(*, now: dt.datetime | None = None) -> int:
    """One AEMO read (actuals + predispatch) for every region that has Flow Power sites to sync,
    stored for all of them: never one read per household. Returns the rows stored."""
    regions = sorted(
        set(
            Site.objects.filter(
                price_source=Site.PriceSource.AEMO, tou_sync_enabled=True
            ).values_list("aemo_region", flat=True)
        )
    )
    if not regions:
        return 0
    series = aemo_client().get_price_series(regions)
    return aemo_series_store(series=series, fetched_at=now or timezone.now())
