"""Per-site Tesla state: what the battery has been told, and a history of every write.

Sites are created on first use with defaults derived from the household, so thousands of sites cost
nothing until a client touches them.
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .energy import (
    POWERWALL_ENERGY_WH,
    POWERWALL_POWER_W,
    BatterySettings,
    Flows,
    dispatch,
    load_w,
    local_time,
    solar_w,
)
from .households import Household, HouseholdDirectory
from .prices import noise

OPERATION_MODES = ("autonomous", "self_consumption", "backup")
EXPORT_RULES = ("battery_ok", "pv_only", "never")
HISTORY_LIMIT = 2000


class TariffInvalid(ValueError):
    pass


def default_tariff() -> dict[str, Any]:
    """A flat single-rate tariff, as a site might carry before the service first writes one."""
    period = {"periods": [{"toDayOfWeek": 6}]}
    season = {"fromMonth": 1, "fromDay": 1, "toMonth": 12, "toDay": 31, "tou_periods": {}}
    return {
        "version": 1,
        "code": "SIM:FLAT",
        "name": "Flat rate",
        "utility": "Simulated Retailer",
        "currency": "AUD",
        "daily_charges": [{"name": "Charge"}],
        "demand_charges": {"ALL": {"rates": {"ALL": 0}}, "Summer": {}, "Winter": {}},
        "energy_charges": {
            "ALL": {"rates": {"ALL": 0}},
            "Summer": {"rates": {"ALL_DAY": 0.3}},
            "Winter": {},
        },
        "seasons": {
            "Summer": {**season, "tou_periods": {"ALL_DAY": period}},
            "Winter": {},
        },
        "sell_tariff": {
            "name": "Flat rate",
            "utility": "Simulated Retailer",
            "daily_charges": [{"name": "Charge"}],
            "demand_charges": {"ALL": {"rates": {"ALL": 0}}, "Summer": {}, "Winter": {}},
            "energy_charges": {
                "ALL": {"rates": {"ALL": 0}},
                "Summer": {"rates": {"ALL_DAY": 0.05}},
                "Winter": {},
            },
            "seasons": {
                "Summer": {**season, "tou_periods": {"ALL_DAY": period}},
                "Winter": {},
            },
        },
    }


def _rate(charges: Any, season: str, period: str, where: str) -> float:
    try:
        value = charges[season]["rates"][period]
    except (KeyError, TypeError) as exc:
        raise TariffInvalid(f"{where}: no rate for period {period!r} in season {season!r}") from exc
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TariffInvalid(f"{where}: rate for {season}/{period} is not a finite number")
    if value < 0:
        raise TariffInvalid(f"{where}: negative rate for {season}/{period}")
    return float(value)


def validate_tariff(tariff: Any) -> None:
    """Reject what Tesla would reject (see external_apis.md §2.5). Raises TariffInvalid."""
    if not isinstance(tariff, dict):
        raise TariffInvalid("tariff_content_v2 must be an object")
    seasons = tariff.get("seasons")
    sell = tariff.get("sell_tariff")
    if not isinstance(seasons, dict) or not seasons:
        raise TariffInvalid("tariff_content_v2.seasons must be a non-empty object")
    if not isinstance(tariff.get("energy_charges"), dict):
        raise TariffInvalid("tariff_content_v2.energy_charges must be an object")
    if not isinstance(sell, dict) or not isinstance(sell.get("energy_charges"), dict):
        raise TariffInvalid("tariff_content_v2.sell_tariff.energy_charges must be an object")
    used = 0
    for name, season in seasons.items():
        if not isinstance(season, dict):
            raise TariffInvalid(f"season {name!r} must be an object")
        periods = season.get("tou_periods") or {}
        if not isinstance(periods, dict):
            raise TariffInvalid(f"season {name!r}: tou_periods must be an object")
        for period, spec in periods.items():
            entries = spec.get("periods") if isinstance(spec, dict) else None
            if not isinstance(entries, list) or not entries:
                raise TariffInvalid(f"{name}/{period}: periods must be a non-empty list")
            for entry in entries:
                if not isinstance(entry, dict):
                    raise TariffInvalid(f"{name}/{period}: each period must be an object")
                for key in ("fromDayOfWeek", "toDayOfWeek"):
                    if not 0 <= int(entry.get(key, 0)) <= 6:
                        raise TariffInvalid(f"{name}/{period}: {key} outside 0..6")
                for key in ("fromHour", "toHour"):
                    if not 0 <= int(entry.get(key, 0)) <= 24:
                        raise TariffInvalid(f"{name}/{period}: {key} outside 0..24")
            _rate(tariff["energy_charges"], name, period, "energy_charges")
            _rate(sell["energy_charges"], name, period, "sell_tariff.energy_charges")
            used += 1
    if not used:
        raise TariffInvalid("tariff has no tou_periods")


def _in_season(season: dict[str, Any], month: int, day: int) -> bool:
    start = (int(season.get("fromMonth", 0)), int(season.get("fromDay", 0)))
    end = (int(season.get("toMonth", 0)), int(season.get("toDay", 0)))
    if start == (0, 0) and end == (0, 0):
        return False
    if start <= end:
        return start <= (month, day) <= end
    return (month, day) >= start or (month, day) <= end


def _covers(entry: dict[str, Any], weekday: int, minute: int) -> bool:
    d0, d1 = int(entry.get("fromDayOfWeek", 0)), int(entry.get("toDayOfWeek", 6))
    in_days = d0 <= weekday <= d1 if d0 <= d1 else (weekday >= d0 or weekday <= d1)
    if not in_days:
        return False
    m0 = int(entry.get("fromHour", 0)) * 60 + int(entry.get("fromMinute", 0))
    m1 = int(entry.get("toHour", 0)) * 60 + int(entry.get("toMinute", 0))
    if m1 <= m0:
        return minute >= m0 or minute < m1 or (m0 == m1 == 0)
    return m0 <= minute < m1


def tariff_day_table(tariff: dict[str, Any], local: datetime) -> list[tuple[float, float]]:
    """(buy, sell) $/kWh for each half-hour of the local day ``local`` falls in."""
    seasons = tariff.get("seasons", {})
    season_name = next(
        (n for n, s in seasons.items() if s and _in_season(s, local.month, local.day)), None
    )
    table: list[tuple[float, float]] = []
    if season_name is None:
        return [(0.0, 0.0)] * 48
    periods = seasons[season_name].get("tou_periods", {})
    buy_rates = tariff.get("energy_charges", {}).get(season_name, {}).get("rates", {})
    sell_rates = (
        tariff.get("sell_tariff", {})
        .get("energy_charges", {})
        .get(season_name, {})
        .get("rates", {})
    )
    weekday = local.weekday()
    for half in range(48):
        minute = half * 30
        found = (0.0, 0.0)
        for name, spec in periods.items():
            if any(_covers(e, weekday, minute) for e in spec.get("periods", [])):
                found = (float(buy_rates.get(name, 0.0)), float(sell_rates.get(name, 0.0)))
                break
        table.append(found)
    return table


@dataclass
class SiteState:
    household: Household
    operation_mode: str
    backup_reserve_percent: int
    export_rule: str
    disallow_charge_from_grid_with_solar_installed: bool
    storm_mode_enabled: bool
    off_grid_vehicle_charging_reserve_percent: int
    tariff: dict[str, Any]
    tariff_updated_at: str | None
    soc_percent: float
    soc_ts: float
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    write_count: int = 0
    _table: tuple[str, list[tuple[float, float]]] | None = None

    @property
    def capacity_wh(self) -> float:
        return float(POWERWALL_ENERGY_WH * self.household.battery_count)

    @property
    def max_power_w(self) -> float:
        return float(POWERWALL_POWER_W * self.household.battery_count)

    def settings(self) -> BatterySettings:
        return BatterySettings(
            mode=self.operation_mode,
            reserve_percent=float(self.backup_reserve_percent),
            export_rule=self.export_rule,
            grid_charging=not self.disallow_charge_from_grid_with_solar_installed,
            capacity_wh=self.capacity_wh,
            max_power_w=self.max_power_w,
        )

    def rates_at(self, ts: float) -> tuple[float, float, float, float]:
        local = local_time(self.household, ts)
        day = local.strftime("%Y-%m-%d")
        if self._table is None or self._table[0] != day:
            self._table = (day, tariff_day_table(self.tariff, local))
        table = self._table[1]
        buy, sell = table[(local.hour * 60 + local.minute) // 30]
        buys = [b for b, _ in table]
        return buy, sell, min(buys), max(buys)

    def set_tariff(self, tariff: dict[str, Any], when: str) -> None:
        self.tariff = copy.deepcopy(tariff)
        self.tariff_updated_at = when
        self._table = None

    def control_dict(self) -> dict[str, Any]:
        return {
            "energy_site_id": self.household.energy_site_id,
            "household": self.household.index,
            "operation_mode": self.operation_mode,
            "backup_reserve_percent": self.backup_reserve_percent,
            "export_rule": self.export_rule,
            "grid_charging": not self.disallow_charge_from_grid_with_solar_installed,
            "disallow_charge_from_grid_with_solar_installed": (
                self.disallow_charge_from_grid_with_solar_installed
            ),
            "storm_mode_enabled": self.storm_mode_enabled,
            "off_grid_vehicle_charging_reserve_percent": (
                self.off_grid_vehicle_charging_reserve_percent
            ),
            "percentage_charged": round(self.soc_percent, 3),
            "tariff_content_v2": self.tariff,
            "tariff_updated_at": self.tariff_updated_at,
            "write_count": self.write_count,
        }


class TeslaSites:
    def __init__(self, households: HouseholdDirectory, seed: int) -> None:
        self.households = households
        self.seed = seed
        self.sites: dict[int, SiteState] = {}
        self.partner_domains: dict[str, str] = {}  # client_id -> domain
        self.write_seq = 0

    def get(self, household: Household, now_ts: float) -> SiteState:
        site = self.sites.get(household.index)
        if site is None:
            soc = 40 + 40 * (noise(self.seed, household.index, 17) + 1) / 2
            site = SiteState(
                household=household,
                operation_mode="autonomous",
                backup_reserve_percent=20,
                export_rule="battery_ok",
                disallow_charge_from_grid_with_solar_installed=False,
                storm_mode_enabled=False,
                off_grid_vehicle_charging_reserve_percent=0,
                tariff=default_tariff(),
                tariff_updated_at=None,
                soc_percent=soc,
                soc_ts=now_ts,
            )
            self.sites[household.index] = site
        return site

    def flows(self, site: SiteState, now_ts: float) -> Flows:
        """Power flows now; integrates the state of charge since the last look."""
        household = site.household
        solar = solar_w(household, now_ts, self.seed)
        load = load_w(household, now_ts, self.seed)
        flows = dispatch(site.settings(), site.soc_percent, solar, load, site.rates_at(now_ts))
        elapsed = now_ts - site.soc_ts
        if 0 < elapsed <= 6 * 3600:
            delta = -flows.battery_w * elapsed / 3600 / site.capacity_wh * 100
            site.soc_percent = min(100.0, max(0.0, site.soc_percent + delta))
        site.soc_ts = now_ts
        return flows

    def record(
        self,
        site: SiteState,
        *,
        now: datetime,
        command: str,
        body: Any,
        status: int,
        via: str,
        error: str | None = None,
    ) -> dict[str, Any]:
        self.write_seq += 1
        entry = {
            "seq": self.write_seq,
            "at": now.isoformat(),
            "real_at": datetime.fromtimestamp(time.time(), UTC).isoformat(),
            "command": command,
            "body": body,
            "status": status,
            "accepted": status < 300,
            "via": via,
            "error": error,
        }
        site.history.append(entry)
        if status < 300:
            site.write_count += 1
        return entry
