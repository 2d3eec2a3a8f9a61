"""Demand tracking: the highest grid import of each billing month inside the plan's demand window.

Rules
-----
* Demand interval: DEMAND_INTERVAL_MINUTES (default 30) aligned on the site-local clock (:00,
  :30). Its demand is the average grid IMPORT over the interval in kW: imported kWh (trapezoid
  over EnergySample rows, the positive part of grid power only, so exporting never lowers it)
  divided by the hours the samples covered. An interval counts only when it is complete (a sample
  at or after its end) and samples cover at least half of it (MIN_COVERAGE); idle sites sampled
  every 5 minutes give an approximation of what the meter measures.
* Demand window: an interval counts when its local start time falls inside the window.
  - The site's custom TOU schedule, when one of its periods carries ``demand_dollars_per_kw`` > 0:
    the windows of those periods, in the season of the interval's local date (tariffs.engine.
    custom_tou rules: weekdays 0 = Monday, windows past midnight belong to their start day).
  - Otherwise the default window: 15:00-21:00 local on working weekdays, Monday to Friday except
    the public holidays of the site's state (the common shape of Australian network demand
    windows). The state comes from the time zone (``holiday_state``), except that an Evoenergy
    site is in the ACT, which shares Sydney's time zone but not NSW's holidays. With neither
    known, every weekday counts.
  Windows are wall-clock times, so across a DST change 15:00 is 15:00 AEST one day and 15:00 AEDT
  the next; intervals are stepped in real time, so the repeated hour after DST ends is two
  distinct hours of demand.
* Rate ($/kW per billing month): the ``demand_dollars_per_kw`` of the schedule period the peak
  interval is in; in the default window the schedule's ``demand_charge_dollars_per_kw``; 0 with
  no schedule. Estimated charge = peak_kw x rate, rounded half-up to cents.
* Billing month: the calendar month of the interval's local start (first day stored), so 00:30
  on 1 July in Sydney is July even though it is still 30 June in UTC.
* ``peak_at`` is the start of the peak interval (UTC).
* Peaks only rise: the row is inserted if absent and otherwise updated only where the stored
  peak is lower, both decided by the database (no read-then-write race). Recomputing never
  lowers a peak, even after the schedule changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Container
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import holidays
from django.db import transaction
from django.utils import timezone

from devices.energy import (
    MAX_GAP,
    energy_setting,
    flow_points,
    integrate,
    local_midnight,
    step_boundaries,
)
from devices.models import DemandPeak, Site
from tariffs.engine.custom_tou import ScheduleInvalid, TouSchedule, schedule_from_dict

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_START = dt.time(15, 0)
DEFAULT_WINDOW_END = dt.time(21, 0)
DEFAULT_WINDOW_WEEKDAYS = frozenset(range(5))  # Monday to Friday
_ZONE_STATE = {
    "Australia/Sydney": "NSW",
    "Australia/Broken_Hill": "NSW",
    "Australia/Lord_Howe": "NSW",
    "Australia/Canberra": "ACT",
    "Australia/Melbourne": "VIC",
    "Australia/Brisbane": "QLD",
    "Australia/Lindeman": "QLD",
    "Australia/Adelaide": "SA",
    "Australia/Hobart": "TAS",
    "Australia/Darwin": "NT",
    "Australia/Perth": "WA",
}
_ACT_NETWORKS = frozenset({"evoenergy"})
MIN_COVERAGE = 0.5
_KW_QUANTUM = Decimal("0.001")
_CENTS = Decimal("0.01")
ZERO = Decimal(0)


@dataclass(frozen=True)
class DemandPlan:
    """Where demand counts for one site and at what rate (module rules)."""

    zone: ZoneInfo
    interval: dt.timedelta
    schedule: TouSchedule | None  # only when it has demand periods
    default_rate_dollars_per_kw: Decimal
    # Public holidays, outside the default window (a schedule's windows are its own).
    holidays: Container[dt.date] = field(default_factory=frozenset)

    def rate_at(self, interval_start: dt.datetime) -> Decimal | None:
        """The $/kW/month rate of the window holding ``interval_start``, None outside it."""
        local = interval_start.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        if self.schedule is None:
            start = DEFAULT_WINDOW_START.hour * 60 + DEFAULT_WINDOW_START.minute
            end = DEFAULT_WINDOW_END.hour * 60 + DEFAULT_WINDOW_END.minute
            in_window = (
                local.weekday() in DEFAULT_WINDOW_WEEKDAYS
                and start <= minute < end
                and local.date() not in self.holidays
            )
            return self.default_rate_dollars_per_kw if in_window else None
        season = self.schedule.season_for(local.date())
        for start, end, period in season.segments_on(local.weekday()):
            if start <= minute < end and period.demand_dollars_per_kw > 0:
                return period.demand_dollars_per_kw
        return None


def holiday_state(site: Site) -> str | None:
    """The Australian state or territory whose public holidays the site keeps (module rules)."""
    if site.aemo_network in _ACT_NETWORKS:
        return "ACT"
    return _ZONE_STATE.get(site.time_zone)


def site_demand_plan(site: Site) -> DemandPlan:
    interval = dt.timedelta(minutes=energy_setting("DEMAND_INTERVAL_MINUTES"))
    state = holiday_state(site)
    days_off: Container[dt.date] = (
        holidays.country_holidays("AU", subdiv=state) if state else frozenset()
    )
    custom = site.custom_schedule
    if custom is None:
        return DemandPlan(site.zone, interval, None, ZERO, days_off)
    schedule: TouSchedule | None = None
    try:
        parsed = schedule_from_dict(custom.definition)
    except ScheduleInvalid as error:
        logger.warning("site %s: custom schedule unusable for demand (%s)", site.pk, error)
    else:
        has_demand = any(
            period.demand_dollars_per_kw > 0
            for season in parsed.seasons
            for period in season.periods
        )
        schedule = parsed if has_demand else None
    return DemandPlan(site.zone, interval, schedule, custom.demand_charge_dollars_per_kw, days_off)


@dataclass(frozen=True)
class IntervalDemand:
    start: dt.datetime
    demand_kw: Decimal
    rate_dollars_per_kw: Decimal

    def billing_month(self, zone: ZoneInfo) -> dt.date:
        return self.start.astimezone(zone).date().replace(day=1)


def interval_demands(
    *, site: Site, since: dt.datetime, until: dt.datetime, plan: DemandPlan | None = None
) -> list[IntervalDemand]:
    """Demand of every counted interval starting in [since, until) (module rules)."""
    plan = plan or site_demand_plan(site)
    minutes = int(plan.interval.total_seconds() // 60)
    boundaries = step_boundaries(since, until, plan.zone, minutes=minutes)
    if since > boundaries[0]:
        boundaries = boundaries[1:]  # that interval started before ``since``
    if len(boundaries) < 1:
        return []
    boundaries.append(boundaries[-1] + plan.interval)
    points = flow_points(
        site_id=site.pk, since=boundaries[0] - MAX_GAP, until=boundaries[-1] + MAX_GAP
    )
    if not points:
        return []
    newest = points[-1].at
    demands = []
    for totals in integrate(points, boundaries):
        end = totals.start + plan.interval
        if end > newest or totals.start >= until:
            continue
        if totals.covered_seconds < plan.interval.total_seconds() * MIN_COVERAGE:
            continue
        rate = plan.rate_at(totals.start)
        if rate is None:
            continue
        demand_kw = totals.grid_import_kwh / (totals.covered_seconds / 3600)
        demands.append(
            IntervalDemand(
                start=totals.start,
                demand_kw=Decimal(str(demand_kw)).quantize(_KW_QUANTUM, rounding=ROUND_HALF_UP),
                rate_dollars_per_kw=rate,
            )
        )
    return demands


def _peak_raise(*, site_id: int, billing_month: dt.date, peak: IntervalDemand) -> None:
    """Store ``peak`` for the month unless an equal or higher one is stored already."""
    charge = (peak.demand_kw * peak.rate_dollars_per_kw).quantize(_CENTS, rounding=ROUND_HALF_UP)
    values = {
        "peak_kw": peak.demand_kw,
        "peak_at": peak.start,
        "estimated_charge_dollars": charge,
    }
    with transaction.atomic():
        # Insert if absent (ON CONFLICT DO NOTHING) ...
        DemandPeak.objects.bulk_create(
            [DemandPeak(site_id=site_id, billing_month=billing_month, **values)],
            ignore_conflicts=True,
        )
        # ... then raise it only where the stored peak is lower: one conditional UPDATE, so two
        # workers can never replace a higher peak with a lower one.
        DemandPeak.objects.filter(
            site_id=site_id, billing_month=billing_month, peak_kw__lt=peak.demand_kw
        ).update(**values, updated_at=timezone.now())


def demand_peaks_update(
    *, site_id: int, since: dt.datetime, until: dt.datetime
) -> dict[dt.date, IntervalDemand]:
    """Fold the demand of the intervals starting in [since, until) into the monthly peaks.

    Returns the highest counted interval of each billing month seen (the stored peak is that one
    or a higher one). Safe to repeat and to run concurrently.
    """
    site = Site.objects.select_related("custom_schedule").filter(pk=site_id).first()
    if site is None:
        return {}
    plan = site_demand_plan(site)
    best: dict[dt.date, IntervalDemand] = {}
    for demand in interval_demands(site=site, since=since, until=until, plan=plan):
        month = demand.billing_month(plan.zone)
        if month not in best or demand.demand_kw > best[month].demand_kw:
            best[month] = demand
    for month, peak in sorted(best.items()):
        _peak_raise(site_id=site_id, billing_month=month, peak=peak)
    return best


def demand_after_sample(*, site_id: int, sampled_at: dt.datetime) -> dict[dt.date, IntervalDemand]:
    """The incremental update after a new sample: intervals that may have just completed."""
    lookback = dt.timedelta(minutes=energy_setting("DEMAND_INTERVAL_MINUTES")) + MAX_GAP
    return demand_peaks_update(site_id=site_id, since=sampled_at - lookback, until=sampled_at)


def demand_month_recompute(*, site_id: int, month: dt.date) -> dict[dt.date, IntervalDemand]:
    """Recompute a whole billing month from the samples still held (peaks never go down)."""
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return {}
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return demand_peaks_update(
        site_id=site_id,
        since=local_midnight(first, site.zone),
        until=local_midnight(following, site.zone),
    )


def current_billing_month(*, site: Site, now: dt.datetime) -> dt.date:
    return now.astimezone(site.zone).date().replace(day=1)
