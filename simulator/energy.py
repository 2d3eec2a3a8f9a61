"""Household energy model: solar and house load by local time of day, battery dispatch.

Everything is a deterministic function of (household, simulated time) apart from the battery's
state of charge, which the Tesla site state integrates as time passes. Powers are in W; the
battery's sign follows Tesla (+ = discharging) and so does the grid's (+ = importing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from .households import Household
from .prices import noise

POWERWALL_ENERGY_WH = 13_500
POWERWALL_POWER_W = 5_000


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(household: Household, ts: float) -> datetime:
    return datetime.fromtimestamp(ts, zone(household.time_zone))


def _season_phase(local: datetime) -> float:
    """1.0 at the southern summer solstice (~21 Dec), -1.0 at the winter solstice."""
    day = local.timetuple().tm_yday
    return math.cos(2 * math.pi * (day - 355) / 365.25)


def solar_w(household: Household, ts: float, seed: int) -> float:
    local = local_time(household, ts)
    phase = _season_phase(local)
    dst = local.dst()
    dst_shift = dst.total_seconds() / 3600 if dst else 0.0
    hour = local.hour + local.minute / 60 + local.second / 3600 - dst_shift
    day_length = 12 + 2.2 * phase
    sunrise = 12.2 - day_length / 2
    if not sunrise < hour < sunrise + day_length:
        return 0.0
    elevation = math.sin(math.pi * (hour - sunrise) / day_length)
    peak = household.solar_kw * 1000 * (0.78 + 0.17 * phase)
    cloud = 0.88 + 0.12 * noise(seed, household.index, int(ts // 300), 11)
    return round(peak * elevation**1.3 * cloud, 1)


def load_w(household: Household, ts: float, seed: int) -> float:
    local = local_time(household, ts)
    hour = local.hour + local.minute / 60
    base = household.base_load_kw * 1000
    morning = 1300 * math.exp(-(((hour - 7.5) / 1.1) ** 2))
    evening = 2400 * math.exp(-(((hour - 18.75) / 1.6) ** 2))
    jitter = 1 + 0.15 * noise(seed, household.index, int(ts // 300), 13)
    return round((base + morning + evening) * jitter, 1)


@dataclass(frozen=True, slots=True)
class Flows:
    solar_w: float
    load_w: float
    battery_w: float  # + discharging
    grid_w: float  # + importing

    @staticmethod
    def settle(solar: float, load: float, battery: float) -> Flows:
        return Flows(
            solar_w=round(solar, 1),
            load_w=round(load, 1),
            battery_w=round(battery, 1),
            grid_w=round(load - solar - battery, 1),
        )


@dataclass(frozen=True, slots=True)
class BatterySettings:
    mode: str  # autonomous | self_consumption | backup
    reserve_percent: float
    export_rule: str  # battery_ok | pv_only | never
    grid_charging: bool
    capacity_wh: float
    max_power_w: float


def dispatch(
    settings: BatterySettings,
    soc_percent: float,
    solar: float,
    load: float,
    rates: tuple[float, float, float, float] | None,
) -> Flows:
    """Battery and grid power for one instant.

    ``rates`` = (buy now, sell now, cheapest buy today, dearest buy today) in $/kWh from the
    tariff in force, or None without a tariff (then the battery self-consumes).
    """
    max_p = settings.max_power_w
    can_charge = soc_percent < 99.5
    can_discharge = soc_percent > settings.reserve_percent + 0.5
    surplus = solar - load
    charge_solar = min(surplus, max_p) if surplus > 0 and can_charge else 0.0
    cover = min(-surplus, max_p) if surplus < 0 and can_discharge else 0.0
    battery = cover - charge_solar  # self-consumption
    if settings.mode == "backup":
        battery = -charge_solar
        if settings.grid_charging and can_charge:
            battery = -max_p
    elif settings.mode == "autonomous" and rates is not None:
        buy, sell, cheapest, dearest = rates
        spread = dearest - cheapest
        if spread > 0.02 and buy >= dearest - 0.2 * spread and can_discharge:
            exporting = settings.export_rule == "battery_ok" and sell >= 0.8 * max(buy, 0.01)
            battery = max_p if exporting else cover
        elif (
            spread > 0.02
            and buy <= cheapest + 0.1 * spread
            and can_charge
            and settings.grid_charging
            and soc_percent < 90
        ):
            battery = -max_p
    if settings.export_rule != "battery_ok":
        # Battery never exports under pv_only/never.
        battery = min(battery, max(load - solar, 0.0))
    if settings.export_rule == "never":
        # Curtail the solar that would otherwise go to the grid.
        exported = solar - load + battery
        if exported > 0:
            solar = max(0.0, solar - exported)
    return Flows.settle(solar, load, battery)


def energy_split(flows: Flows, seconds: float) -> dict[str, int]:
    """Calendar-history style energy buckets (Wh) for ``flows`` held for ``seconds``."""
    hours = seconds / 3600
    solar, load, battery = flows.solar_w, flows.load_w, flows.battery_w
    solar_home = min(solar, load)
    surplus = solar - solar_home
    charge = max(0.0, -battery)
    charge_solar = min(charge, surplus)
    charge_grid = charge - charge_solar
    solar_export = max(0.0, surplus - charge_solar)
    discharge = max(0.0, battery)
    battery_home = min(discharge, load - solar_home)
    battery_grid = discharge - battery_home
    home_grid = max(0.0, load - solar_home - battery_home)

    def wh(value: float) -> int:
        return round(value * hours)

    return {
        "solar_energy_exported": wh(solar),
        "generator_energy_exported": 0,
        "grid_energy_imported": wh(home_grid + charge_grid),
        "grid_services_energy_imported": 0,
        "grid_services_energy_exported": 0,
        "grid_energy_exported_from_solar": wh(solar_export),
        "grid_energy_exported_from_generator": 0,
        "grid_energy_exported_from_battery": wh(battery_grid),
        "battery_energy_exported": wh(discharge),
        "battery_energy_imported_from_grid": wh(charge_grid),
        "battery_energy_imported_from_solar": wh(charge_solar),
        "battery_energy_imported_from_generator": 0,
        "consumer_energy_imported_from_grid": wh(home_grid),
        "consumer_energy_imported_from_solar": wh(solar_home),
        "consumer_energy_imported_from_battery": wh(battery_home),
        "consumer_energy_imported_from_generator": 0,
        "total_home_usage": wh(load),
        "total_battery_discharge": wh(discharge),
        "total_solar_generation": wh(solar),
        "total_battery_charge": wh(charge),
        "total_grid_energy_exported": wh(solar_export + battery_grid),
    }
