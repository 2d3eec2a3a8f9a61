"""AEMO spike response: one AEMO read per minute for all regions, fanned out to the sites whose
state could change, and a persisted state machine per site.

normal → spike: the region's price ≥ the site's threshold ($/MWh). The battery is taken over
  (devices.battery_override: pre-spike tariff and mode saved once, autonomous, spike tariff).
  While the spike lasts the spike tariff is refreshed each half-hour (its window is 2 half-hours).
spike → normal: the price is below threshold * (1 - SPIKE_HYSTERESIS_FRACTION) for
  SPIKE_CALM_INTERVALS consecutive dispatch intervals (each 5-minute interval counted once, however
  often it is checked); then the tariff and then the mode are restored.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from devices.battery_override import battery_override_apply, battery_override_release
from devices.clients import tesla_client_for
from devices.models import AutomationState, Site
from households.models import Event
from households.services import event_record
from pricing.clients import aemo_client
from pricing.providers.aemo.models import RegionPrice
from pricing.services import aemo_prices_store
from tariffs.engine.overrides import SPIKE_WINDOW_PERIODS, spike_sell_dollars_per_kwh
from tariffs.models import TariffPush

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
    """Sites of the region whose spike state could change at this price."""
    in_region = Site.objects.filter(aemo_region=region, needs_reauthorisation=False)
    entering = in_region.filter(
        spike_detection_enabled=True, spike_threshold_dollars_per_mwh__lte=rrp_dollars_per_mwh
    )
    active = in_region.filter(automation_state__spike_active=True)
    return sorted(
        set(entering.values_list("pk", flat=True)) | set(active.values_list("pk", flat=True))
    )


def _half_hour_start(moment: dt.datetime, site: Site) -> dt.datetime:
    local = moment.astimezone(site.zone)
    return local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0)


def site_spike_evaluate(
    *,
    site_id: int,
    rrp_dollars_per_mwh: Decimal,
    interval_end: dt.datetime,
    now: dt.datetime | None = None,
) -> str:
    """Advance the site's spike state machine for one regional price. Returns what it did."""
    moment = now or timezone.now()
    site = Site.objects.filter(pk=site_id).select_related("automation_state", "credentials").first()
    if site is None:
        return "gone"
    state = getattr(site, "automation_state", None)
    if state is None:
        state, _ = AutomationState.objects.get_or_create(site=site)
    threshold = site.spike_threshold_dollars_per_mwh
    if rrp_dollars_per_mwh >= threshold and site.spike_detection_enabled:
        if not state.spike_active:
            started = AutomationState.objects.filter(pk=state.pk, spike_active=False).update(
                spike_active=True, spike_started_at=moment, spike_calm_intervals=0
            )
            if started:
                state.spike_active = True
                state.spike_started_at = moment
                state.spike_calm_intervals = 0
                event_record(
                    household_id=site.household_id,
                    site_id=site.pk,
                    automation=Event.Automation.SPIKE,
                    decision="Price spike: exporting at spike prices",
                    reason=f"{site.aemo_region} wholesale price ${rrp_dollars_per_mwh}/MWh ≥ "
                    f"threshold ${threshold}/MWh",
                    data={"rrp_dollars_per_mwh": str(rrp_dollars_per_mwh)},
                )
            else:
                state.refresh_from_db()  # another worker started it
        elif state.spike_calm_intervals:
            AutomationState.objects.filter(pk=state.pk).update(spike_calm_intervals=0)
        return _ensure_spike_tariff(site, state, rrp_dollars_per_mwh, moment)

    if not state.spike_active:
        return "normal"
    calm_below = threshold * (1 - SPIKE_HYSTERESIS_FRACTION)
    if rrp_dollars_per_mwh >= calm_below and site.spike_detection_enabled:
        AutomationState.objects.filter(pk=state.pk).update(spike_calm_intervals=0)
        return "holding"
    if state.spike_last_interval_end is not None and interval_end <= state.spike_last_interval_end:
        return "counted"  # this dispatch interval was already counted
    calm = state.spike_calm_intervals + 1
    AutomationState.objects.filter(pk=state.pk).update(
        spike_calm_intervals=calm, spike_last_interval_end=interval_end
    )
    if calm < SPIKE_CALM_INTERVALS and site.spike_detection_enabled:
        return "calming"
    ended = AutomationState.objects.filter(pk=state.pk, spike_active=True).update(
        spike_active=False, spike_calm_intervals=0, spike_tariff_half_hour=None
    )
    if ended:
        battery_override_release(
            site=site,
            client=tesla_client_for(site),
            reason=TariffPush.Reason.SPIKE_RESTORE,
            why="Spike over: restore the household's tariff",
            now=moment,
        )
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=Event.Automation.SPIKE,
            decision="Spike over: tariff and mode restored",
            reason=f"{site.aemo_region} price ${rrp_dollars_per_mwh}/MWh, below "
            f"${calm_below:.2f}/MWh for {SPIKE_CALM_INTERVALS} intervals",
        )
    return "restored"


def _ensure_spike_tariff(
    site: Site, state: AutomationState, rrp_dollars_per_mwh: Decimal, moment: dt.datetime
) -> str:
    """Push the spike tariff unless it was confirmed for this half-hour already."""
    half_hour = _half_hour_start(moment, site)
    if state.spike_tariff_half_hour == half_hour:
        return "spike tariff in force"
    push = battery_override_apply(
        site=site,
        state=state,
        client=tesla_client_for(site),
        reason=TariffPush.Reason.SPIKE,
        sell_dollars_per_kwh=spike_sell_dollars_per_kwh(rrp_dollars_per_mwh),
        periods=SPIKE_WINDOW_PERIODS,
        why=f"AEMO spike: {site.aemo_region} at ${rrp_dollars_per_mwh}/MWh",
        now=moment,
    )
    if push.status != TariffPush.Status.CONFIRMED:
        return "spike tariff not confirmed"
    AutomationState.objects.filter(pk=state.pk).update(spike_tariff_half_hour=half_hour)
    return "spike tariff pushed"
