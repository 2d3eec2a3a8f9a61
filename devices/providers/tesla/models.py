"""Typed values returned by the Tesla client. Plain frozen dataclasses, no vendor JSON.

Units are in the names: ``_w`` watts, ``_wh`` watt-hours, ``_percent`` 0-100.
Sign conventions follow Tesla's (see ``LiveStatus``). Datetimes are aware and in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

OperationMode = Literal["self_consumption", "autonomous", "backup"]
"""``autonomous`` is what the Tesla app calls "Time-Based Control"."""

OPERATION_MODES: frozenset[str] = frozenset({"self_consumption", "autonomous", "backup"})

ExportRule = Literal["never", "pv_only", "battery_ok"]
"""What the site may export: nothing, solar only, or solar and battery."""

EXPORT_RULES: frozenset[str] = frozenset({"never", "pv_only", "battery_ok"})

HistoryPeriod = Literal["day", "week", "month", "year", "lifetime"]

HISTORY_PERIODS: frozenset[str] = frozenset({"day", "week", "month", "year", "lifetime"})


@dataclass(frozen=True)
class EnergySite:
    """One energy site from ``GET /api/1/products`` (vehicles are skipped)."""

    energy_site_id: int
    site_name: str | None
    resource_type: str | None
    gateway_id: str | None
    has_battery: bool
    has_solar: bool
    has_grid: bool
    battery_percent: float | None
    energy_left_wh: float | None
    total_pack_energy_wh: float | None
    battery_power_w: float | None


@dataclass(frozen=True)
class BatteryInfo:
    """One battery (e.g. a Powerwall 2) in ``site_info.components.batteries``."""

    part_name: str | None
    nameplate_energy_wh: float | None
    nameplate_max_charge_power_w: float | None
    nameplate_max_discharge_power_w: float | None


@dataclass(frozen=True)
class SiteInfo:
    """Configuration and settings of an energy site (``GET …/site_info``).

    Every field is optional because Tesla omits what a site does not have (a solar-only site has
    no export rule, a fresh site may have no tariff).

    Attributes:
        installation_time_zone: IANA name, e.g. ``"Australia/Brisbane"``; None when Tesla sends
            an empty string (it does for some sites).
        operation_mode: Tesla's ``default_real_mode`` as sent (normally an ``OperationMode``).
        export_rule: ``customer_preferred_export_rule`` (normally an ``ExportRule``), read from
            ``components`` where Tesla puts it, or from the top level.
        disallow_grid_charging: ``disallow_charge_from_grid_with_solar_installed``: True means
            the battery may not charge from the grid.
        tariff_content_v2: The tariff in force, as Tesla's plain dict (see external_apis §2.5),
            or None. It is handed to the tariff engine, never to views.
    """

    site_name: str | None = None
    gateway_asset_id: str | None = None
    installation_time_zone: str | None = None
    operation_mode: str | None = None
    backup_reserve_percent: float | None = None
    export_rule: str | None = None
    disallow_grid_charging: bool | None = None
    tou_capable: bool | None = None
    storm_mode_enabled: bool | None = None
    battery_count: int | None = None
    batteries: tuple[BatteryInfo, ...] = ()
    nameplate_power_w: float | None = None
    nameplate_energy_wh: float | None = None
    firmware_version: str | None = None
    tariff_content_v2: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LiveStatus:
    """Instantaneous power flows of a site (``GET …/live_status``).

    Sign conventions (Tesla's): ``battery_power_w`` > 0 discharging, < 0 charging;
    ``grid_power_w`` > 0 importing, < 0 exporting; solar and load are >= 0.
    So ``load = solar + battery + grid`` (up to metering noise).
    """

    timestamp: datetime
    solar_power_w: float
    battery_power_w: float
    grid_power_w: float
    load_power_w: float
    battery_percent: float | None
    energy_left_wh: float | None
    total_pack_energy_wh: float | None
    generator_power_w: float | None
    grid_status: str | None
    island_status: str | None
    storm_mode_active: bool | None
    backup_capable: bool | None


@dataclass(frozen=True)
class EnergyHistoryPoint:
    """Energy totals (Wh) for one bucket of ``calendar_history?kind=energy``.

    ``timestamp`` is the bucket start, converted to UTC (Tesla sends site-local offsets).
    """

    timestamp: datetime
    solar_generation_wh: float
    grid_imported_wh: float
    grid_exported_wh: float
    battery_discharged_wh: float
    battery_charged_wh: float
    home_usage_wh: float
    battery_charged_from_grid_wh: float
    battery_charged_from_solar_wh: float
    grid_exported_from_solar_wh: float
    grid_exported_from_battery_wh: float
    home_from_grid_wh: float
    home_from_solar_wh: float
    home_from_battery_wh: float


@dataclass(frozen=True)
class EnergyHistory:
    """A ``calendar_history`` energy series."""

    period: str
    installation_time_zone: str | None
    points: tuple[EnergyHistoryPoint, ...]


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one command (what Tesla said, how long it took).

    ``result`` False means Tesla answered 2xx but refused or did not apply the command;
    ``reason`` then carries its explanation. HTTP-level failures are raised, not returned.
    """

    result: bool
    reason: str
    http_status: int
    latency_ms: float


@dataclass(frozen=True)
class FleetRegion:
    """Answer of ``GET /api/1/users/region``: where the account's data lives."""

    region: str
    base_url: str


@dataclass(frozen=True)
class TeslemetryMetadata:
    """Answer of Teslemetry's ``GET /api/metadata``."""

    uid: str | None
    region: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class PartnerAccount:
    """Answer of ``POST /api/1/partner_accounts`` (domain registration)."""

    domain: str
    client_id: str | None
    public_key_hex: str | None
