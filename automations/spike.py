"""AEMO spike response: one AEMO read per minute for all regions, fanned out to the sites whose
spike intent could change, and a persisted state machine per site that sets or clears it.

normal → spike: the region's price ≥ the site's threshold ($/MWh). The spike intent goes on: the
  reconcile saves the tariff the Powerwall holds, sets autonomous and battery_ok, and pushes an
  export tariff (the current and next half-hour at the spike price). While the spike lasts its
  window moves with each half-hour (the intent's ``window_start``), so the tariff is refreshed
  once per half-hour, not once per price.
spike → normal: the price is below threshold * (1 - SPIKE_HYSTERESIS_FRACTION) for
  SPIKE_CALM_INTERVALS consecutive dispatch intervals (each 5-minute interval counted once,
  however often it is checked); then the intent is cleared and the reconcile hands the Powerwall
  to what waits behind it (curtailment, a hold, live prices from fresh data, or the tariff and
  mode the household had).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from automations.checks import CheckContext, Checked, state_update
from automations.models import IntentKind, SiteIntent
from devices.models import Site
from pricing.clients import aemo_client
from pricing.providers.aemo.models import RegionPrice
from pricing.services import aemo_prices_store
from tariffs.engine.overrides import SPIKE_WINDOW_PERIODS, spike_sell_dollars_per_kwh

SPIKE_HYSTERESIS_FRACTION = Decimal("0.1")
SPIKE_CALM_INTERVALS = 2


def aemo_prices_check(*, now: dt.datetime | None = None) -> dict[str, RegionPrice]:
    """Read every region once, store the prices, return them by region id."""
    moment = now or timezone.now()
    current = aemo_client().get_current_prices()
    prices = list(current.prices.values())
    aemo_prices_store(prices=prices, fetched_at=moment)
    return {str(region): price for region, price in current.prices.items()}


def sites_to_evaluate(region: str, rrp_dollars_per_mwh: Decimal) -> list[int]:
    """Sites of the region whose spike intent could change at this price."""
    in_region = Site.objects.filter(aemo_region=region, needs_reauthorisation=False)
    entering = in_region.filter(
        spike_detection_enabled=True, spike_threshold_dollars_per_mwh__lte=rrp_dollars_per_mwh
    )
    active = SiteIntent.objects.filter(kind=IntentKind.SPIKE, active=True, site__aemo_region=region)
    return sorted(
        set(entering.values_list("pk", flat=True)) | set(active.values_list("site_id", flat=True))
    )


def half_hour_start(moment: dt.datetime, site: Site) -> dt.datetime:
    """The start (UTC) of the site-local half-hour in progress at ``moment``."""
    local = moment.astimezone(site.zone)
    start = local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0)
    return start.astimezone(dt.UTC)


def _spike_data(
    site: Site, rrp_dollars_per_mwh: Decimal, window_start: dt.datetime
) -> dict[str, Any]:
    threshold = site.spike_threshold_dollars_per_mwh
    return {
        "region": site.aemo_region,
        "rrp_dollars_per_mwh": str(rrp_dollars_per_mwh),
        "threshold_dollars_per_mwh": str(threshold),
        "calm_below_dollars_per_mwh": str(calm_below(threshold)),
        "sell_dollars_per_kwh": str(spike_sell_dollars_per_kwh(rrp_dollars_per_mwh)),
        "window_start": window_start.isoformat(),
        "periods": SPIKE_WINDOW_PERIODS,
    }


def calm_below(threshold_dollars_per_mwh: Decimal) -> Decimal:
    """The price the region must fall below for the spike to count as over ($/MWh)."""
    return (threshold_dollars_per_mwh * (1 - SPIKE_HYSTERESIS_FRACTION)).quantize(Decimal("0.01"))


# What a spike check did that changes the spike intent (the site then needs a reconcile).
CHANGED = frozenset({"started", "refreshed", "ended"})


@dataclass(frozen=True)
class SpikeCheck:
    """One regional price for one site, run by the site's reconcile pass
    (``site_reconcile(site_id=..., check=SpikeCheck(...))``). Its ``what``: "started",
    "refreshed" (a new half-hour's window), "holding", "calming", "counted", "ended" or
    "normal"."""

    rrp_dollars_per_mwh: Decimal
    interval_end: dt.datetime

    def run(self, context: CheckContext) -> Checked:
        what = self._advance(context)
        return Checked(what, what in CHANGED)

    def _advance(self, context: CheckContext) -> str:
        site, state, intents, moment = context.site, context.state, context.intents, context.now
        rrp = self.rrp_dollars_per_mwh
        spike = intents.of(IntentKind.SPIKE)
        threshold = site.spike_threshold_dollars_per_mwh
        if rrp >= threshold and site.spike_detection_enabled:
            if state.spike_calm_intervals:
                state_update(state, spike_calm_intervals=0)
            window = half_hour_start(moment, site)
            if spike is not None and spike.data.get("window_start") == window.isoformat():
                return "holding"
            started = intents.set(
                IntentKind.SPIKE,
                why=f"AEMO spike: {site.aemo_region} at ${rrp}/MWh ≥ threshold "
                f"${threshold}/MWh; until the price falls below ${calm_below(threshold)}/MWh",
                data=_spike_data(site, rrp, window),
                now=moment,
                started="Price spike: exporting at spike prices",
            )
            return "started" if started else "refreshed"

        if spike is None:
            return "normal"
        below = calm_below(threshold)
        if rrp >= below and site.spike_detection_enabled:
            if state.spike_calm_intervals:
                state_update(state, spike_calm_intervals=0)
            return "holding"
        last = state.spike_last_interval_end
        if last is not None and self.interval_end <= last:
            return "counted"  # this dispatch interval was already counted
        calm = state.spike_calm_intervals + 1
        if calm < SPIKE_CALM_INTERVALS and site.spike_detection_enabled:
            state_update(
                state, spike_calm_intervals=calm, spike_last_interval_end=self.interval_end
            )
            return "calming"
        state_update(state, spike_calm_intervals=0, spike_last_interval_end=self.interval_end)
        why = (
            f"{site.aemo_region} price ${rrp}/MWh, below ${below}/MWh for "
            f"{SPIKE_CALM_INTERVALS} intervals"
            if site.spike_detection_enabled
            else "Spike response was turned off"
        )
        ended = intents.clear(
            IntentKind.SPIKE,
            why=why,
            ended="Spike over: the Powerwall goes back to what waits behind it",
        )
        return "ended" if ended else "counted"
