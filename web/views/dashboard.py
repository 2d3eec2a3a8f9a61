"""Per-site dashboard: prices, the tariff Tesla holds, live power flows, energy, demand,
automation states; plus the small JSON endpoint the page polls every 30 s."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from automations.force_discharge import DURATIONS_MINUTES
from automations.selectors import SiteControl, site_control
from devices.commands import write_budget_use
from devices.energy import site_watch_mark
from devices.models import EnergySample, Site
from devices.selectors import (
    PriceHistory,
    PriceNow,
    site_connection_status,
    site_demand_peak_for_month,
    site_energy_latest,
    site_power_samples,
    site_price_history,
    site_price_now,
)
from pricing.selectors import forecast_calibration_for
from tariffs.models import TariffPush
from tariffs.selectors import tariff_half_hours, tariff_push_in_force
from web import charts
from web.views.common import site_or_404

HISTORY_BEFORE = dt.timedelta(hours=24)
FORECAST_AHEAD = dt.timedelta(hours=12)
LIVE_STALE_AFTER = dt.timedelta(minutes=10)


def _kw(watts: int | float) -> float:
    return round(float(watts) / 1000, 2)


def _live(site: Site, sample: EnergySample | None, now: dt.datetime) -> dict[str, Any]:
    """Power flows in kW with words for their direction (Tesla signs: battery + = discharging,
    grid + = importing)."""
    if sample is None:
        return {"available": False}
    return {
        "available": True,
        "sampled_at": sample.sampled_at.isoformat(),
        "sampled_at_local": timezone.localtime(sample.sampled_at, site.zone).strftime("%H:%M:%S"),
        "stale": sample.sampled_at < now - LIVE_STALE_AFTER,
        "solar_kw": _kw(sample.solar_power_w),
        "home_kw": _kw(sample.load_power_w),
        "battery_kw": _kw(abs(sample.battery_power_w)),
        "battery_direction": (
            "discharging"
            if sample.battery_power_w > 50
            else "charging"
            if sample.battery_power_w < -50
            else "idle"
        ),
        "grid_kw": _kw(abs(sample.grid_power_w)),
        "grid_direction": (
            "importing"
            if sample.grid_power_w > 50
            else "exporting"
            if sample.grid_power_w < -50
            else "idle"
        ),
        "battery_percent": round(float(sample.battery_percent), 1),
    }


def _price_json(price: PriceNow | None) -> dict[str, Any]:
    if price is None:
        return {"available": False}

    def number(value: Decimal | None) -> float | None:
        return None if value is None else round(float(value), 2)

    return {
        "available": True,
        "buy_c_per_kwh": number(price.buy_c_per_kwh),
        "export_earn_c_per_kwh": number(price.export_earn_c_per_kwh),
        "rrp_dollars_per_mwh": number(price.rrp_dollars_per_mwh),
        "spike_status": price.spike_status,
        "is_spike": price.is_spike,
        "stale": price.is_stale,
    }


def _automation_json(control: SiteControl, site: Site) -> dict[str, Any]:
    """The control picture for the page's refresh: who is in control and each automation."""
    lines = {line.kind: line for line in [*control.in_control, *control.waiting]}
    discharge = lines.get("force_discharge")
    return {
        "headline": control.headline,
        "paused_by_operator": control.pause.reason if control.pause else None,
        "prices_unavailable_since": control.prices_unavailable_since.isoformat()
        if control.prices_unavailable_since
        else None,
        "in_step": control.in_step,
        "spike_active": "spike" in lines,
        "curtailment_active": "curtailment" in lines,
        "household_hold": control.household_hold,
        "force_discharge_until": discharge.until.isoformat()
        if discharge and discharge.until
        else None,
    }


def _price_chart(site: Site, history: PriceHistory, now: dt.datetime) -> Any:
    def points(rows: list[Any], forecast: bool) -> list[tuple[dt.datetime, float]]:
        return [(p.end_at, float(p.value)) for p in rows if p.is_forecast == forecast]

    series = [
        charts.Series("Buy (actual)", "var(--buy)", points(history.buy, False)),
        charts.Series("Buy (forecast)", "var(--buy)", points(history.buy, True), dashed=True),
    ]
    if history.export_earn:
        series += [
            charts.Series("Export (actual)", "var(--sell)", points(history.export_earn, False)),
            charts.Series(
                "Export (forecast)", "var(--sell)", points(history.export_earn, True), dashed=True
            ),
        ]
    return charts.time_chart(
        series,
        start=now - HISTORY_BEFORE,
        end=now + FORECAST_AHEAD,
        zone=site.zone,
        unit=history.unit,
        now=now,
        title="Prices over the last 24 hours and the forecast",
        chart_id="price-chart",
    )


def _energy_chart(site: Site, samples: list[EnergySample], now: dt.datetime) -> Any:
    series = [
        charts.Series(
            "Solar", "var(--solar)", [(s.sampled_at, _kw(s.solar_power_w)) for s in samples]
        ),
        charts.Series(
            "Home", "var(--home)", [(s.sampled_at, _kw(s.load_power_w)) for s in samples]
        ),
        charts.Series(
            "Battery (+ discharging)",
            "var(--battery)",
            [(s.sampled_at, _kw(s.battery_power_w)) for s in samples],
        ),
        charts.Series(
            "Grid (+ importing)",
            "var(--grid)",
            [(s.sampled_at, _kw(s.grid_power_w)) for s in samples],
        ),
    ]
    return charts.time_chart(
        series,
        start=now - HISTORY_BEFORE,
        end=now,
        zone=site.zone,
        unit="kW",
        title="Power over the last 24 hours",
        chart_id="energy-chart",
    )


@login_required
@require_GET
def dashboard(request: HttpRequest, site_id: int) -> HttpResponse:
    site = site_or_404(request, site_id)
    now = timezone.now()
    local_now = timezone.localtime(now, site.zone)
    price = site_price_now(site=site, now=now)
    history = site_price_history(site=site, since=now - HISTORY_BEFORE, until=now + FORECAST_AHEAD)
    push = tariff_push_in_force(site=site)
    half_hours = (
        tariff_half_hours(tariff_content=push.tariff_content, local_date=local_now.date())
        if push and push.tariff_content
        else None
    )
    current_index = local_now.hour * 2 + local_now.minute // 30
    latest_attempt = TariffPush.objects.filter(site=site).order_by("-created_at", "-id").first()
    sample = site_energy_latest(site=site)
    samples = site_power_samples(site=site, since=now - HISTORY_BEFORE)
    control = site_control(site=site, now=now)
    context = {
        "site": site,
        "page": "dashboard",
        "nav": "sites",
        "now_local": local_now,
        "status": site_connection_status(site=site),
        "price": price,
        "price_chart": _price_chart(site, history, now),
        "price_unit": history.unit,
        "push": push,
        "latest_attempt": latest_attempt,
        "half_hours": half_hours,
        "tariff_chart": (
            charts.half_hour_bars(
                [h.buy_dollars_per_kwh for h in half_hours],
                [h.sell_dollars_per_kwh for h in half_hours],
                current_index=current_index,
                title="Tariff Tesla holds: buy and sell per half-hour",
            )
            if half_hours
            else None
        ),
        "current_index": current_index,
        "live": _live(site, sample, now),
        "energy_chart": _energy_chart(site, samples, now) if samples else None,
        "demand_peak": site_demand_peak_for_month(
            site=site, month_start=local_now.date().replace(day=1)
        ),
        "control": control,
        "active": {line.kind: line for line in [*control.in_control, *control.waiting]},
        "force_discharge_minutes": DURATIONS_MINUTES,
        "write_budget": write_budget_use(site.pk, now=now),
        "calibration": (
            forecast_calibration_for(amber_site_id=site.amber_site_id, now=now)
            if site.forecast_type == Site.ForecastType.CALIBRATED and site.amber_site_id
            else None
        ),
    }
    return render(request, "web/dashboard.html", context)


@login_required
@require_GET
def live(request: HttpRequest, site_id: int) -> JsonResponse:
    """Latest power flows, battery % and price, for the page's 30-second refresh."""
    site = site_or_404(request, site_id)
    site_watch_mark(site_id=site.pk)  # someone is looking: sample every 30 s for a while
    now = timezone.now()
    return JsonResponse(
        {
            "site_id": site.pk,
            "live": _live(site, site_energy_latest(site=site), now),
            "price": _price_json(site_price_now(site=site, now=now)),
            "automation": _automation_json(site_control(site=site, now=now), site),
            "needs_reauthorisation": site.needs_reauthorisation,
        }
    )
