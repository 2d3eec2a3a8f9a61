"""The bridge from a Site and fetched prices to the pure engine: settings → TariffSettings, client
intervals → engine intervals, engine result → tariff_content_v2. No I/O here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from devices.models import Site
from pricing.providers.amber.models import PriceInterval
from tariffs.engine.amber import AmberInterval, build_amber_rates
from tariffs.engine.calibration import ForecastCalibration
from tariffs.engine.custom_tou import half_hour_rates_for, schedule_from_dict
from tariffs.engine.flow_power import (
    AemoPrice,
    FlowPowerConfigError,
    FlowPowerPlan,
    build_flow_power_rates,
)
from tariffs.engine.freshness import Built, Refused
from tariffs.engine.model import HalfHourRates
from tariffs.engine.settings import (
    ExportBoost,
    ForecastType,
    LocalWindow,
    TariffSettings,
    TariffSettingsError,
)
from tariffs.engine.tesla_format import (
    render_custom_tariff,
    render_half_hour_tariff,
    validate_tariff_content_v2,
)

PLAN_NAME = "PowerSync live prices"


def tariff_settings_for(site: Site) -> TariffSettings:
    boost = None
    if site.export_boost_enabled:
        start, end = site.export_boost_window_start, site.export_boost_window_end
        boost = ExportBoost(
            offset_c_per_kwh=float(site.export_boost_offset_c_per_kwh),
            min_c_per_kwh=float(site.export_boost_min_c_per_kwh),
            threshold_c_per_kwh=float(site.export_boost_threshold_c_per_kwh),
            window=_boost_window(start, end),
        )
    return TariffSettings(
        forecast_type=ForecastType(site.forecast_type),
        spike_protection=site.spike_protection_enabled,
        export_boost=boost,
    )


def _boost_window(start: dt.time, end: dt.time) -> LocalWindow:
    try:
        return LocalWindow.parse(f"{start:%H:%M}", f"{end:%H:%M}")
    except TariffSettingsError as exc:  # named, for the household's event
        raise TariffSettingsError(f"export boost window {start:%H:%M}-{end:%H:%M}: {exc}") from None


def engine_intervals(intervals: Sequence[PriceInterval]) -> list[AmberInterval]:
    """Typed client intervals → the engine's compact form (same units: c/kWh incl. GST)."""
    converted = []
    for interval in intervals:
        advanced = interval.advanced_price
        converted.append(
            AmberInterval(
                str(interval.type),
                str(interval.channel_type),
                interval.duration_min,
                int(interval.end_time.timestamp()),
                float(interval.price_c_per_kwh),
                (
                    float(advanced.low_c_per_kwh),
                    float(advanced.predicted_c_per_kwh),
                    float(advanced.high_c_per_kwh),
                )
                if advanced
                else None,
                str(interval.spike_status),
            )
        )
    return converted


@dataclass(frozen=True)
class SiteTariff:
    """A site's fresh tariff. ``content`` (tariff_content_v2, validated) is rendered on first
    use: most syncs find nothing worth pushing and compare ``rates`` only."""

    rates: HalfHourRates
    notes: tuple[str, ...]
    utility: str
    # A fixed plan's own content: its seasons and named periods, not 48 half-hours.
    plan_content: dict[str, Any] | None = None

    @cached_property
    def content(self) -> dict[str, Any]:
        if self.plan_content is not None:
            return self.plan_content
        content = render_half_hour_tariff(self.rates, plan_name=PLAN_NAME, utility=self.utility)
        validate_tariff_content_v2(content)
        return content


def amber_site_tariff(
    site: Site,
    intervals: Sequence[PriceInterval],
    *,
    now: dt.datetime,
    calibration: ForecastCalibration | None = None,
) -> SiteTariff | Refused:
    """``calibration`` matters only to a site on the calibrated forecast."""
    result = build_amber_rates(
        engine_intervals(intervals),
        zone=site.zone,
        now=now,
        settings=tariff_settings_for(site),
        calibration=calibration,
    )
    if isinstance(result, Refused):
        return result
    assert isinstance(result, Built)
    return _site_tariff(result, utility="Amber Electric")


def aemo_site_tariff(
    site: Site, prices: Sequence[AemoPrice], *, now: dt.datetime
) -> SiteTariff | Refused:
    """Flow Power: regional AEMO prices + the site's network tariff. An unknown network or
    tariff code is refused with the reason (configuration, not data: nothing to retry)."""
    plan = FlowPowerPlan(
        network=site.aemo_network or None, tariff_code=site.aemo_tariff_code or None
    )
    try:
        result = build_flow_power_rates(
            prices, plan=plan, zone=site.zone, now=now, settings=tariff_settings_for(site)
        )
    except FlowPowerConfigError as exc:
        return Refused(reason=f"Flow Power plan: {exc}")
    if isinstance(result, Refused):
        return result
    return _site_tariff(result, utility="Flow Power")


def _site_tariff(result: Built, *, utility: str) -> SiteTariff:
    notes = tuple(result.notes) + tuple(a.describe() for a in result.adjustments)
    return SiteTariff(rates=result.rates, notes=notes, utility=utility)


def custom_site_tariff(site: Site, *, now: dt.datetime) -> SiteTariff:
    """A fixed TOU plan: the schedule rendered with its seasons and named periods."""
    assert site.custom_schedule is not None
    schedule = schedule_from_dict(site.custom_schedule.definition)
    rates = half_hour_rates_for(schedule, now.astimezone(site.zone).date())
    return SiteTariff(
        rates=rates, notes=(), utility=schedule.utility, plan_content=render_custom_tariff(schedule)
    )


def current_half_hour_index(zone_now: dt.datetime) -> int:
    return zone_now.hour * 2 + zone_now.minute // 30
