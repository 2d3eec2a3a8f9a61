"""Live price sync: the routine intent's tariff, built from fresh prices.

The reconcile (automations/reconcile.py) asks for it when live price sync decides the tariff and
either a sync is due (Beat: every interval start, then when settled prices arrive; "sync now")
or the tariff comes back to live prices after another intent (built then from fresh prices,
never from what was fetched before the takeover). Never built from stale or missing prices: the
engine refuses, and the refusal is recorded.
"""

from __future__ import annotations

import datetime as dt
import enum

from django.conf import settings
from django.utils import timezone

from automations.models import AutomationState
from credentials.models import SiteCredentials
from devices.models import Site
from pricing.clients import aemo_client, amber_client
from pricing.providers.amber.models import PriceInterval
from pricing.selectors import aemo_prices_for_engine, forecast_calibration_for
from pricing.services import aemo_series_store, amber_intervals_store
from tariffs.engine.calibration import ForecastCalibration, sample_window
from tariffs.engine.freshness import Refused
from tariffs.models import TariffPush
from tariffs.site_tariff import (
    SiteTariff,
    aemo_site_tariff,
    amber_site_tariff,
    custom_site_tariff,
)

# Beat's routine reasons: held back by the write budget, and between-half-hour syncs store only
# the newest settled rows.
ROUTINE_REASONS = frozenset({TariffPush.Reason.FORECAST, TariffPush.Reason.SETTLED})


class SyncOutcome(enum.StrEnum):
    """What a requested sync came to (``AutomationState.last_sync_outcome``)."""

    PUSHED = "pushed"
    MISMATCH = "mismatch"
    FAILED = "failed"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    HELD = "held"  # another intent decides the tariff now
    PAUSED = "paused"
    NO_BUDGET = "no_budget"
    ALREADY_FRESH = "already_fresh"
    DISABLED = "disabled"


class NoPriceAccess(Exception):
    """The site's price source cannot be read (no Amber token): nothing to build from."""


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
    and any other sync store everything fetched (the recent actuals, the current interval, the
    forecasts); other routine syncs store the actual and current rows of the last 15 minutes.
    History stays complete at a fraction of the writes."""
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


def routine_tariff(
    site: Site,
    state: AutomationState,
    credentials: SiteCredentials | None,
    *,
    reason: str,
    now: dt.datetime,
) -> SiteTariff | Refused:
    """The site's live-price tariff now. Provider errors propagate (the task's retry policy
    decides); ``NoPriceAccess`` when an Amber site has no token."""
    if site.price_source == Site.PriceSource.AMBER:
        if credentials is None or not credentials.amber_token:
            raise NoPriceAccess("no Amber token")
        return _amber_tariff(site, state, credentials.amber_token, reason=reason, now=now)
    if site.price_source == Site.PriceSource.AEMO:
        return aemo_site_tariff(
            site, aemo_prices_for_engine(region=site.aemo_region, now=now), now=now
        )
    return custom_site_tariff(site, now=now)


def _amber_tariff(
    site: Site, state: AutomationState, token: str, *, reason: str, now: dt.datetime
) -> SiteTariff | Refused:
    intervals = amber_client(token).get_current_prices(
        site.amber_site_id,
        next_intervals=settings.AMBER_NEXT_INTERVALS,
        previous_intervals=settings.AMBER_PREVIOUS_INTERVALS,
        resolution_min=5,
    )
    stored, include_forecasts = _intervals_to_store(intervals, reason, now, state.last_sync_at)
    amber_intervals_store(
        amber_site_id=site.amber_site_id,
        intervals=stored,
        fetched_at=now,
        include_forecasts=include_forecasts,
    )
    calibration = None
    if site.forecast_type == Site.ForecastType.CALIBRATED:
        calibration = _site_calibration(site, state, now=now)
    return amber_site_tariff(site, intervals, now=now, calibration=calibration)


def _site_calibration(
    site: Site, state: AutomationState, *, now: dt.datetime
) -> ForecastCalibration:
    """The calibrated forecast's weights. Learned once per 5-minute interval (the first sync in
    it) and kept on the automation state: the interval's later syncs have the same sample window
    (``sample_window``), so they reuse them instead of reading the price history again."""
    until = dt.datetime.fromtimestamp(sample_window(now)[1], tz=dt.UTC)
    if (
        state.calibration_until == until
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
