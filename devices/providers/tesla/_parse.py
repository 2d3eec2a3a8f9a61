"""Vendor JSON -> typed models. Pure functions; any shape surprise raises ``InvalidResponse``.

Messages name the field and the type found, never the value (values can be personal data).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidResponse
from .models import (
    BatteryInfo,
    CommandResult,
    EnergyHistory,
    EnergyHistoryPoint,
    EnergySite,
    FleetRegion,
    LiveStatus,
    PartnerAccount,
    SiteInfo,
    TeslemetryMetadata,
)

_REGION_RE = re.compile(r"[A-Za-z]{2,8}")


def unwrap(body: Any, where: str) -> Any:
    """Return ``body["response"]`` of Tesla's envelope ``{"response": …}``."""
    if not isinstance(body, dict) or "response" not in body:
        raise InvalidResponse(f"{where}: no {{'response': …}} envelope")
    return body["response"]


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidResponse(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _opt_object(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    return _object(value, f"{where}.{key}")


def _opt_float(data: Mapping[str, Any], key: str, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    # bool is an int subclass: a boolean where a number belongs is a shape error.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidResponse(f"{where}.{key}: expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidResponse(f"{where}.{key}: not a finite number")
    return number


def _req_float(data: Mapping[str, Any], key: str, where: str) -> float:
    number = _opt_float(data, key, where)
    if number is None:
        raise InvalidResponse(f"{where}.{key}: missing")
    return number


def _opt_int(data: Mapping[str, Any], key: str, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidResponse(f"{where}.{key}: expected an integer, got {type(value).__name__}")
    return value


def _opt_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidResponse(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _opt_bool(data: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidResponse(f"{where}.{key}: expected a boolean, got {type(value).__name__}")
    return value


def _aware_utc(data: Mapping[str, Any], key: str, where: str) -> datetime:
    text = _opt_str(data, key, where)
    if text is None:
        raise InvalidResponse(f"{where}.{key}: missing")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidResponse(f"{where}.{key}: not an ISO 8601 timestamp") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidResponse(f"{where}.{key}: timestamp has no UTC offset")
    return moment.astimezone(UTC)


def parse_products(payload: Any) -> list[EnergySite]:
    where = "products"
    if not isinstance(payload, list):
        raise InvalidResponse(f"{where}: expected a list, got {type(payload).__name__}")
    sites: list[EnergySite] = []
    for index, raw in enumerate(payload):
        item = _object(raw, f"{where}[{index}]")
        if "energy_site_id" not in item:
            continue  # a vehicle
        at = f"{where}[{index}]"
        site_id = _opt_int(item, "energy_site_id", at)
        if site_id is None:
            raise InvalidResponse(f"{at}.energy_site_id: missing")
        components = _opt_object(item, "components", at)
        sites.append(
            EnergySite(
                energy_site_id=site_id,
                site_name=_opt_str(item, "site_name", at),
                resource_type=_opt_str(item, "resource_type", at),
                gateway_id=_opt_str(item, "gateway_id", at),
                has_battery=bool(_opt_bool(components, "battery", f"{at}.components")),
                has_solar=bool(_opt_bool(components, "solar", f"{at}.components")),
                has_grid=bool(_opt_bool(components, "grid", f"{at}.components")),
                battery_percent=_opt_float(item, "percentage_charged", at),
                energy_left_wh=_opt_float(item, "energy_left", at),
                total_pack_energy_wh=_opt_float(item, "total_pack_energy", at),
                battery_power_w=_opt_float(item, "battery_power", at),
            )
        )
    return sites


def parse_site_info(payload: Any) -> SiteInfo:
    where = "site_info"
    info = _object(payload, where)
    components = _opt_object(info, "components", where)
    user_settings = _opt_object(info, "user_settings", where)
    at_c = f"{where}.components"

    # Real payloads keep these two under "components"; accept the top level as a fallback.
    export_rule = _opt_str(components, "customer_preferred_export_rule", at_c)
    if export_rule is None:
        export_rule = _opt_str(info, "customer_preferred_export_rule", where)
    disallow = _opt_bool(components, "disallow_charge_from_grid_with_solar_installed", at_c)
    if disallow is None:
        disallow = _opt_bool(info, "disallow_charge_from_grid_with_solar_installed", where)

    raw_batteries = components.get("batteries")
    if raw_batteries is None:
        raw_batteries = []
    if not isinstance(raw_batteries, list):
        raise InvalidResponse(f"{at_c}.batteries: expected a list")
    batteries = []
    for index, raw in enumerate(raw_batteries):
        at = f"{at_c}.batteries[{index}]"
        battery = _object(raw, at)
        batteries.append(
            BatteryInfo(
                part_name=_opt_str(battery, "part_name", at),
                nameplate_energy_wh=_opt_float(battery, "nameplate_energy", at),
                nameplate_max_charge_power_w=_opt_float(battery, "nameplate_max_charge_power", at),
                nameplate_max_discharge_power_w=_opt_float(
                    battery, "nameplate_max_discharge_power", at
                ),
            )
        )

    tariff = info.get("tariff_content_v2")
    if tariff is not None and not isinstance(tariff, dict):
        raise InvalidResponse(f"{where}.tariff_content_v2: expected an object")

    return SiteInfo(
        site_name=_opt_str(info, "site_name", where),
        gateway_asset_id=_opt_str(info, "id", where),
        # Tesla sends "" for sites whose installer set no zone.
        installation_time_zone=_opt_str(info, "installation_time_zone", where) or None,
        operation_mode=_opt_str(info, "default_real_mode", where),
        backup_reserve_percent=_opt_float(info, "backup_reserve_percent", where),
        export_rule=export_rule,
        disallow_grid_charging=disallow,
        tou_capable=_opt_bool(components, "tou_capable", at_c),
        storm_mode_enabled=_opt_bool(user_settings, "storm_mode_enabled", f"{where}.user_settings"),
        battery_count=_opt_int(info, "battery_count", where),
        batteries=tuple(batteries),
        nameplate_power_w=_opt_float(info, "nameplate_power", where),
        nameplate_energy_wh=_opt_float(info, "nameplate_energy", where),
        firmware_version=_opt_str(info, "version", where),
        tariff_content_v2=tariff,
    )


def parse_live_status(payload: Any) -> LiveStatus:
    where = "live_status"
    status = _object(payload, where)
    return LiveStatus(
        timestamp=_aware_utc(status, "timestamp", where),
        solar_power_w=_req_float(status, "solar_power", where),
        battery_power_w=_req_float(status, "battery_power", where),
        grid_power_w=_req_float(status, "grid_power", where),
        load_power_w=_req_float(status, "load_power", where),
        battery_percent=_opt_float(status, "percentage_charged", where),
        energy_left_wh=_opt_float(status, "energy_left", where),
        total_pack_energy_wh=_opt_float(status, "total_pack_energy", where),
        generator_power_w=_opt_float(status, "generator_power", where),
        grid_status=_opt_str(status, "grid_status", where),
        island_status=_opt_str(status, "island_status", where),
        storm_mode_active=_opt_bool(status, "storm_mode_active", where),
        backup_capable=_opt_bool(status, "backup_capable", where),
    )


def _wh(data: Mapping[str, Any], key: str, where: str) -> float:
    # An absent counter is counted as 0 Wh; a counter of the wrong type is still an error.
    return _opt_float(data, key, where) or 0.0


def _sum_wh(data: Mapping[str, Any], keys: tuple[str, ...], where: str) -> float:
    return sum(_wh(data, key, where) for key in keys)


def parse_energy_history(payload: Any) -> EnergyHistory:
    where = "calendar_history"
    history = _object(payload, where)
    series = history.get("time_series")
    if not isinstance(series, list):
        raise InvalidResponse(f"{where}.time_series: expected a list")
    points = []
    for index, raw in enumerate(series):
        at = f"{where}.time_series[{index}]"
        row = _object(raw, at)
        solar = _opt_float(row, "total_solar_generation", at)
        grid_export = _opt_float(row, "total_grid_energy_exported", at)
        home = _opt_float(row, "total_home_usage", at)
        points.append(
            EnergyHistoryPoint(
                timestamp=_aware_utc(row, "timestamp", at),
                solar_generation_wh=solar
                if solar is not None
                else _wh(row, "solar_energy_exported", at),
                grid_imported_wh=_wh(row, "grid_energy_imported", at),
                grid_exported_wh=grid_export
                if grid_export is not None
                else _sum_wh(
                    row,
                    (
                        "grid_energy_exported_from_solar",
                        "grid_energy_exported_from_battery",
                        "grid_energy_exported_from_generator",
                    ),
                    at,
                ),
                battery_discharged_wh=_wh(row, "battery_energy_exported", at),
                battery_charged_wh=_sum_wh(
                    row,
                    (
                        "battery_energy_imported_from_grid",
                        "battery_energy_imported_from_solar",
                        "battery_energy_imported_from_generator",
                    ),
                    at,
                ),
                home_usage_wh=home
                if home is not None
                else _sum_wh(
                    row,
                    (
                        "consumer_energy_imported_from_grid",
                        "consumer_energy_imported_from_solar",
                        "consumer_energy_imported_from_battery",
                        "consumer_energy_imported_from_generator",
                    ),
                    at,
                ),
                battery_charged_from_grid_wh=_wh(row, "battery_energy_imported_from_grid", at),
                battery_charged_from_solar_wh=_wh(row, "battery_energy_imported_from_solar", at),
                grid_exported_from_solar_wh=_wh(row, "grid_energy_exported_from_solar", at),
                grid_exported_from_battery_wh=_wh(row, "grid_energy_exported_from_battery", at),
                home_from_grid_wh=_wh(row, "consumer_energy_imported_from_grid", at),
                home_from_solar_wh=_wh(row, "consumer_energy_imported_from_solar", at),
                home_from_battery_wh=_wh(row, "consumer_energy_imported_from_battery", at),
            )
        )
    return EnergyHistory(
        period=_opt_str(history, "period", where) or "",
        installation_time_zone=_opt_str(history, "installation_time_zone", where) or None,
        points=tuple(points),
    )


def parse_command_result(payload: Any, *, http_status: int, latency_ms: float) -> CommandResult:
    """Read both answer shapes Tesla uses for energy commands.

    ``{"code": 201, "message": "Updated"}`` (documented for backup, site_name, storm_mode) and
    ``{"result": true, "reason": ""}`` (the generic command shape).
    """
    where = "command"
    answer = _object(payload, where)
    if "result" in answer:
        result = _opt_bool(answer, "result", where)
        if result is None:
            raise InvalidResponse(f"{where}.result: missing")
        reason = _opt_str(answer, "reason", where) or ""
    elif "code" in answer:
        code = _opt_int(answer, "code", where)
        if code is None:
            raise InvalidResponse(f"{where}.code: missing")
        result = 200 <= code < 300
        reason = _opt_str(answer, "message", where) or ""
    else:
        raise InvalidResponse(f"{where}: neither 'result' nor 'code' in the answer")
    return CommandResult(
        result=result, reason=reason, http_status=http_status, latency_ms=latency_ms
    )


def parse_region(payload: Any) -> FleetRegion:
    where = "users/region"
    answer = _object(payload, where)
    region = _opt_str(answer, "region", where)
    base_url = _opt_str(answer, "fleet_api_base_url", where)
    if not region or not base_url:
        raise InvalidResponse(f"{where}: region or fleet_api_base_url missing")
    if not base_url.startswith(("https://", "http://")):
        raise InvalidResponse(f"{where}.fleet_api_base_url: not an http(s) URL")
    return FleetRegion(region=region, base_url=base_url.rstrip("/"))


def parse_teslemetry_metadata(payload: Any) -> TeslemetryMetadata:
    where = "teslemetry metadata"
    answer = _object(payload, where)
    region = _opt_str(answer, "region", where)
    # The region becomes part of a host name: accept letters only.
    if region is None or not _REGION_RE.fullmatch(region):
        raise InvalidResponse(f"{where}.region: missing or not a region code")
    scopes = answer.get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise InvalidResponse(f"{where}.scopes: expected a list of strings")
    return TeslemetryMetadata(
        uid=_opt_str(answer, "uid", where), region=region, scopes=tuple(scopes)
    )


def parse_partner_account(payload: Any, *, domain: str) -> PartnerAccount:
    where = "partner_accounts"
    answer = _object(payload, where)
    return PartnerAccount(
        domain=_opt_str(answer, "domain", where) or domain,
        client_id=_opt_str(answer, "client_id", where),
        public_key_hex=_opt_str(answer, "public_key", where),
    )
