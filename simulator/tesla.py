"""Tesla Fleet API (``/tesla``), Teslemetry (``/teslemetry``) and Tesla OAuth (``/tesla-auth``).

Fleet API and Teslemetry share the ``/api/1/...`` handlers and the ``{"response": ...}`` envelope;
they differ in authentication: the Fleet API takes the JWT access tokens minted by the simulated
OAuth server, Teslemetry takes each household's static key and counts 30 calls per 60 s per key.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from .core import SIM, Simulator, bearer, json_response
from .energy import Flows, dispatch, energy_split, load_w, local_time, solar_w, zone
from .households import APP_CLIENT_ID, Household
from .oauth import OAuthError
from .tesla_state import EXPORT_RULES, OPERATION_MODES, SiteState, TariffInvalid, validate_tariff

FLEET = "/tesla"
TESLEMETRY = "/teslemetry"
AUTH = "/tesla-auth"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def tesla_error(
    status: int, error: str, description: str = "", headers: dict[str, str] | None = None
) -> web.Response:
    return json_response(
        {"response": None, "error": error, "error_description": description},
        status=status,
        headers=headers,
    )


def envelope(data: Any) -> web.Response:
    return json_response({"response": data})


class _Denied(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _caller(request: web.Request, sim: Simulator, *, scope: str | None) -> Household:
    """The household behind the request's credentials, or raise _Denied with Tesla's reply."""
    token = bearer(request)
    if request.path.startswith(TESLEMETRY):
        if token is None:
            raise _Denied(tesla_error(401, "missing_token", "Missing bearer token"))
        household = sim.households.by_teslemetry_key(token)
        if household is None:
            raise _Denied(tesla_error(401, "invalid_token", "Invalid or expired token"))
        limiter = sim.teslemetry_limiter
        if limiter.enabled:
            allowed, _remaining, reset = limiter.hit(token)
            if not allowed:
                raise _Denied(
                    tesla_error(
                        429,
                        "rate_limited",
                        f"Rate limit of {limiter.limit} calls per {int(limiter.window_s)}s",
                        headers={"Retry-After": str(reset)},
                    )
                )
        return household
    if token is None:
        raise _Denied(tesla_error(401, "missing bearer token", ""))
    claims = sim.tokens.verify(token)
    if claims is None:
        raise _Denied(tesla_error(401, "invalid bearer token", ""))
    if sim.tokens.expired(claims, sim.clock.timestamp()):
        # Tesla: 401 with no body means the access token expired.
        raise _Denied(web.Response(status=401))
    if claims.partner or claims.household is None:
        raise _Denied(tesla_error(403, "Unauthorized missing scopes", "user token required"))
    if scope is not None and scope not in claims.scopes:
        raise _Denied(tesla_error(403, "Unauthorized missing scopes", f"requires {scope}"))
    if (
        sim.config.require_partner_registration
        and claims.client_id not in sim.tesla.partner_domains
    ):
        raise _Denied(
            tesla_error(412, "Unregistered account", "register the partner account first")
        )
    household = sim.households.get(claims.household) if claims.household else None
    if household is None:
        raise _Denied(tesla_error(401, "invalid bearer token", ""))
    return household


def _site(request: web.Request, sim: Simulator, household: Household) -> SiteState:
    raw = request.match_info["site_id"]
    owner = sim.households.by_energy_site_id(int(raw)) if raw.isdigit() else None
    if owner is None or owner.index != household.index:
        raise _Denied(tesla_error(404, "Not Found", "energy site not found"))
    return sim.tesla.get(household, sim.clock.timestamp())


def _guarded(func: Callable[[web.Request, Simulator], Awaitable[web.Response]]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await func(request, request.app[SIM])
        except _Denied as denied:
            return denied.response

    handler.__name__ = func.__name__
    return handler


# -- reads -------------------------------------------------------------------------------------
async def products(request: web.Request, sim: Simulator) -> web.Response:
    household = _caller(request, sim, scope=None)
    now = sim.clock.timestamp()
    site = sim.tesla.get(household, now)
    flows = sim.tesla.flows(site, now)
    item = {
        "energy_site_id": household.energy_site_id,
        "resource_type": "battery",
        "site_name": household.site_name,
        "id": household.gateway_id,
        "gateway_id": household.gateway_id,
        "asset_site_id": f"{household.energy_site_id:x}",
        "warp_site_number": f"GA{household.index:07d}",
        "energy_left": round(site.capacity_wh * site.soc_percent / 100, 3),
        "total_pack_energy": int(site.capacity_wh),
        "percentage_charged": round(site.soc_percent, 6),
        "battery_type": "ac_powerwall",
        "backup_capable": True,
        "battery_power": flows.battery_w,
        "go_off_grid_test_banner_enabled": None,
        "storm_mode_enabled": site.storm_mode_enabled,
        "powerwall_onboarding_settings_set": True,
        "powerwall_tesla_electric_interested_in": None,
        "vpp_tour_enabled": None,
        "sync_grid_alert_enabled": True,
        "breaker_alert_enabled": True,
        "components": {
            "battery": True,
            "battery_type": "ac_powerwall",
            "solar": True,
            "solar_type": "pv_panel",
            "grid": True,
            "load_meter": True,
            "market_type": "residential",
            "wall_connectors": [],
        },
        "features": {"rate_plan_manager_no_pricing_constraint": True},
    }
    return json_response({"response": [item], "count": 1})


def site_info_json(site: SiteState) -> dict[str, Any]:
    household = site.household
    count = household.battery_count
    batteries = [
        {
            "device_id": f"{household.gateway_id}-pw{i}",
            "din": f"1092170-03-E--TG12{household.index:06d}{i}",
            "serial_number": f"TG12{household.index:06d}{i}",
            "part_number": "1092170-03-E",
            "part_type": 2,
            "part_name": "Powerwall 2",
            "nameplate_max_charge_power": 5000,
            "nameplate_max_discharge_power": 5000,
            "nameplate_energy": 13500,
        }
        for i in range(1, count + 1)
    ]
    return {
        "id": household.gateway_id,
        "site_name": household.site_name,
        "backup_reserve_percent": site.backup_reserve_percent,
        "default_real_mode": site.operation_mode,
        "installation_date": "2023-03-01T10:00:00+10:00",
        "user_settings": {
            "go_off_grid_test_banner_enabled": False,
            "storm_mode_enabled": site.storm_mode_enabled,
            "powerwall_onboarding_settings_set": True,
            "powerwall_tesla_electric_interested_in": False,
            "vpp_tour_enabled": False,
            "sync_grid_alert_enabled": True,
            "breaker_alert_enabled": False,
        },
        "components": {
            "solar": True,
            "solar_type": "pv_panel",
            "battery": True,
            "grid": True,
            "backup": True,
            "gateway": "teg",
            "load_meter": True,
            "tou_capable": True,
            "storm_mode_capable": True,
            "flex_energy_request_capable": False,
            "car_charging_data_supported": False,
            "off_grid_vehicle_charging_reserve_supported": True,
            "vehicle_charging_performance_view_enabled": False,
            "vehicle_charging_solar_offset_view_enabled": False,
            "battery_solar_offset_view_enabled": True,
            "solar_value_enabled": True,
            "energy_value_header": "Energy Value",
            "energy_value_subheader": "Estimated Value",
            "energy_service_self_scheduling_enabled": True,
            "show_grid_import_battery_source_cards": True,
            "set_islanding_mode_enabled": True,
            "wifi_commissioning_enabled": True,
            "backup_time_remaining_enabled": True,
            "battery_type": "ac_powerwall",
            "configurable": True,
            "grid_services_enabled": False,
            "batteries": batteries,
            "wall_connectors": [],
            "disallow_charge_from_grid_with_solar_installed": (
                site.disallow_charge_from_grid_with_solar_installed
            ),
            "customer_preferred_export_rule": site.export_rule,
            "net_meter_mode": "battery_ok",
            "system_alerts_enabled": True,
        },
        "version": "25.10.1 3f4d0a1e",
        "battery_count": count,
        "tou_settings": {"optimization_strategy": "economics", "schedule": []},
        "nameplate_power": 5000 * count,
        "nameplate_energy": 13500 * count,
        "installation_time_zone": household.time_zone,
        "off_grid_vehicle_charging_reserve_percent": site.off_grid_vehicle_charging_reserve_percent,
        "max_site_meter_power_ac": 1_000_000_000,
        "min_site_meter_power_ac": -1_000_000_000,
        "vpp_backup_reserve_percent": 0,
        "tariff_content_v2": site.tariff,
    }


async def site_info(request: web.Request, sim: Simulator) -> web.Response:
    household = _caller(request, sim, scope="energy_device_data")
    return envelope(site_info_json(_site(request, sim, household)))


async def live_status(request: web.Request, sim: Simulator) -> web.Response:
    household = _caller(request, sim, scope="energy_device_data")
    site = _site(request, sim, household)
    now = sim.clock.timestamp()
    flows = sim.tesla.flows(site, now)
    return envelope(
        {
            "solar_power": flows.solar_w,
            "energy_left": round(site.capacity_wh * site.soc_percent / 100, 3),
            "total_pack_energy": int(site.capacity_wh),
            "percentage_charged": round(site.soc_percent, 6),
            "backup_capable": True,
            "battery_power": flows.battery_w,
            "load_power": flows.load_w,
            "grid_status": "Active",
            "grid_services_active": False,
            "grid_power": flows.grid_w,
            "grid_services_power": 0,
            "generator_power": 0,
            "island_status": "on_grid",
            "storm_mode_active": False,
            "timestamp": local_time(household, now).isoformat(timespec="seconds"),
            "wall_connectors": [],
        }
    )


_PERIODS = ("day", "week", "month", "year", "lifetime")


def _history_flows(sim: Simulator, site: SiteState, ts: float) -> Flows:
    """Stateless flows for history buckets (self-consumption at a mid state of charge)."""
    household = site.household
    seed = sim.config.seed
    return dispatch(
        site.settings(), 50.0, solar_w(household, ts, seed), load_w(household, ts, seed), None
    )


def _bucket(sim: Simulator, site: SiteState, start: datetime, seconds: int, samples: int) -> dict:
    step = seconds / samples
    totals: dict[str, int] = {}
    for i in range(samples):
        ts = start.timestamp() + (i + 0.5) * step
        for key, value in energy_split(_history_flows(sim, site, ts), step).items():
            totals[key] = totals.get(key, 0) + value
    stamp = start.isoformat(timespec="seconds")
    return {"timestamp": stamp, **totals, "raw_timestamp": stamp}


async def calendar_history(request: web.Request, sim: Simulator) -> web.Response:
    household = _caller(request, sim, scope="energy_device_data")
    site = _site(request, sim, household)
    kind = request.query.get("kind", "energy")
    period = request.query.get("period", "day")
    if kind not in ("energy", "backup"):
        return tesla_error(400, "invalid_field", "kind must be energy or backup")
    if period not in _PERIODS:
        return tesla_error(400, "invalid_field", f"period must be one of {', '.join(_PERIODS)}")
    if kind == "backup":
        return envelope({"events": [], "total_events": 0})
    tz_name = request.query.get("time_zone") or household.time_zone
    try:
        tz = zone(tz_name)
    except (KeyError, ValueError):
        return tesla_error(400, "invalid_field", "unknown time_zone")
    now = sim.clock.now()
    end_raw = request.query.get("end_date")
    try:
        end = datetime.fromisoformat(end_raw.replace("Z", "+00:00")) if end_raw else now
    except ValueError:
        return tesla_error(400, "invalid_field", "end_date must be ISO 8601")
    if end.tzinfo is None:
        end = end.replace(tzinfo=tz)
    end = min(end, now).astimezone(tz)
    day_start = end.replace(hour=0, minute=0, second=0, microsecond=0)
    series: list[dict[str, Any]] = []
    if period == "day":
        cursor = day_start
        while cursor < end:
            nxt = (cursor.astimezone(zone("UTC")) + timedelta(minutes=5)).astimezone(tz)
            series.append(_bucket(sim, site, cursor, 300, 1))
            cursor = nxt
    else:
        days = {"week": 7, "month": 30, "year": 365, "lifetime": 365}[period]
        for back in range(days - 1, -1, -1):
            start = (day_start - timedelta(days=back)).replace(tzinfo=tz)
            series.append(_bucket(sim, site, start, 86_400, 24))
    return envelope(
        {
            "serial_number": household.gateway_id,
            "period": period,
            "installation_time_zone": household.time_zone,
            "time_series": series,
        }
    )


# -- commands ----------------------------------------------------------------------------------
def _apply_operation(site: SiteState, body: dict[str, Any]) -> str | None:
    mode = body.get("default_real_mode")
    if mode not in OPERATION_MODES:
        return f"default_real_mode must be one of {', '.join(OPERATION_MODES)}"
    site.operation_mode = mode
    return None


def _apply_backup(site: SiteState, body: dict[str, Any]) -> str | None:
    value = body.get("backup_reserve_percent")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        return "backup_reserve_percent must be a number between 0 and 100"
    site.backup_reserve_percent = round(value)
    return None


def _apply_grid_import_export(site: SiteState, body: dict[str, Any]) -> str | None:
    rule = body.get("customer_preferred_export_rule")
    disallow = body.get("disallow_charge_from_grid_with_solar_installed")
    if rule is None and disallow is None:
        return (
            "one of customer_preferred_export_rule or "
            "disallow_charge_from_grid_with_solar_installed is required"
        )
    if rule is not None and rule not in EXPORT_RULES:
        return f"customer_preferred_export_rule must be one of {', '.join(EXPORT_RULES)}"
    if disallow is not None and not isinstance(disallow, bool):
        return "disallow_charge_from_grid_with_solar_installed must be a boolean"
    if rule is not None:
        site.export_rule = rule
    if disallow is not None:
        site.disallow_charge_from_grid_with_solar_installed = disallow
    return None


def _apply_storm_mode(site: SiteState, body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("enabled"), bool):
        return "enabled must be a boolean"
    site.storm_mode_enabled = body["enabled"]
    return None


def _apply_off_grid_reserve(site: SiteState, body: dict[str, Any]) -> str | None:
    value = body.get("off_grid_vehicle_charging_reserve_percent")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        return "off_grid_vehicle_charging_reserve_percent must be an integer 0..100"
    site.off_grid_vehicle_charging_reserve_percent = value
    return None


_COMMANDS: dict[str, Callable[[SiteState, dict[str, Any]], str | None]] = {
    "operation": _apply_operation,
    "backup": _apply_backup,
    "grid_import_export": _apply_grid_import_export,
    "storm_mode": _apply_storm_mode,
    "off_grid_vehicle_charging_reserve": _apply_off_grid_reserve,
}


async def _json_body(request: web.Request) -> dict[str, Any]:
    if "json" not in request.headers.get("Content-Type", ""):
        raise _Denied(
            tesla_error(406, "not_a_JSON_request", "Content-Type must be application/json")
        )
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError as exc:
        raise _Denied(tesla_error(400, "invalid_request", "body is not valid JSON")) from exc
    if not isinstance(body, dict):
        raise _Denied(tesla_error(400, "invalid_request", "body must be a JSON object"))
    return body


def _command(name: str) -> Callable[[web.Request, Simulator], Awaitable[web.Response]]:
    async def handle(request: web.Request, sim: Simulator) -> web.Response:
        household = _caller(request, sim, scope="energy_cmds")
        site = _site(request, sim, household)
        body = await _json_body(request)
        now = sim.clock.now()
        sim.tesla.flows(site, now.timestamp())  # settle the charge under the old settings
        via = "teslemetry" if request.path.startswith(TESLEMETRY) else "fleet"
        if name == "time_of_use_settings":
            error = _apply_tou(site, body, now)
        else:
            error = _COMMANDS[name](site, body)
        status = 400 if error else 200
        sim.tesla.record(
            site, now=now, command=name, body=body, status=status, via=via, error=error
        )
        if error:
            return tesla_error(400, "invalid_field", error)
        return envelope({"code": 201, "message": "Updated"})

    handle.__name__ = f"command_{name}"
    return handle


def _apply_tou(site: SiteState, body: dict[str, Any], now: datetime) -> str | None:
    settings = body.get("tou_settings")
    if not isinstance(settings, dict) or "tariff_content_v2" not in settings:
        return 'body must be {"tou_settings": {"tariff_content_v2": {...}}}'
    try:
        validate_tariff(settings["tariff_content_v2"])
    except TariffInvalid as exc:
        return str(exc)
    site.set_tariff(settings["tariff_content_v2"], now.isoformat())
    return None


# -- account-level -----------------------------------------------------------------------------
async def users_region(request: web.Request, sim: Simulator) -> web.Response:
    _caller(request, sim, scope=None)
    base = sim.base_urls.get("tesla_fleet") or f"{request.scheme}://{request.host}{FLEET}"
    return envelope({"region": "na", "fleet_api_base_url": base})


def _partner_client(request: web.Request, sim: Simulator) -> str:
    token = bearer(request)
    claims = sim.tokens.verify(token) if token else None
    if claims is None or sim.tokens.expired(claims, sim.clock.timestamp()):
        raise _Denied(tesla_error(401, "invalid bearer token", ""))
    if not claims.partner:
        raise _Denied(tesla_error(403, "Unauthorized missing scopes", "partner token required"))
    return claims.client_id


async def partner_register(request: web.Request, sim: Simulator) -> web.Response:
    client_id = _partner_client(request, sim)
    body = await _json_body(request)
    domain = body.get("domain")
    if not isinstance(domain, str) or not domain or "/" in domain:
        return tesla_error(400, "invalid_field", "domain must be a bare host name")
    sim.tesla.partner_domains[client_id] = domain
    return envelope(
        {
            "client_id": client_id,
            "domain": domain,
            "name": "PowerSync (simulated)",
            "description": "",
            "csr": None,
            "ca": None,
            "created_at": sim.clock.now().isoformat(),
            "updated_at": sim.clock.now().isoformat(),
            "enterprise_tier": "free",
            "issuer": None,
            "csr_updated_at": None,
            "public_key": "",
        }
    )


async def partner_public_key(request: web.Request, sim: Simulator) -> web.Response:
    _partner_client(request, sim)
    domain = request.query.get("domain", "")
    if domain not in sim.tesla.partner_domains.values():
        return tesla_error(404, "Not Found", "domain not registered")
    return envelope({"public_key": ""})


async def teslemetry_metadata(request: web.Request, sim: Simulator) -> web.Response:
    household = _caller(request, sim, scope=None)
    return json_response(
        {
            "uid": f"sim-{household.index}",
            "region": "NA",
            "scopes": [
                "openid",
                "offline_access",
                "user_data",
                "vehicle_device_data",
                "vehicle_cmds",
                "vehicle_charging_cmds",
                "energy_device_data",
                "energy_cmds",
            ],
            "vehicles": {},
            "energy_sites": {str(household.energy_site_id): {"access": True}},
        }
    )


async def fleet_status(request: web.Request) -> web.Response:
    return web.Response(text="ok")


# -- OAuth -------------------------------------------------------------------------------------
def _oauth_error(exc: OAuthError) -> web.Response:
    return json_response(exc.body(), status=exc.status)


async def authorize(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    q = request.query
    client_id = q.get("client_id", "")
    redirect_uri = q.get("redirect_uri", "")
    if q.get("response_type") != "code":
        return _oauth_error(OAuthError(400, "invalid_request", "response_type must be code"))
    if client_id != APP_CLIENT_ID and sim.households.by_client_id(client_id) is None:
        return _oauth_error(OAuthError(400, "unauthorized_client", "unknown client_id"))
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _oauth_error(
            OAuthError(400, "invalid_redirect_url", "redirect_uri must be absolute")
        )
    if not q.get("state"):
        return _oauth_error(OAuthError(400, "invalid_request", "state is required"))
    hint = q.get("login_hint", "")
    household = sim.households.by_login_hint(hint) if hint else None
    if household is None:
        household = sim.households.by_client_id(client_id)
    if household is None:
        return _oauth_error(
            OAuthError(400, "login_required", "pass login_hint=<household index or e-mail>")
        )
    challenge = q.get("code_challenge") or None
    if challenge is not None and q.get("code_challenge_method", "plain") != "S256":
        # Tesla's docs (Open Source Tokens) describe S256; "plain" would defeat PKCE.
        return _oauth_error(
            OAuthError(400, "invalid_request", "code_challenge_method must be S256")
        )
    scopes = tuple(q.get("scope", "openid offline_access").split())
    code = sim.tokens.issue_code(
        household=household.index,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        code_challenge=challenge,
    )
    issuer = sim.base_urls.get("tesla_auth") or f"{request.scheme}://{request.host}{AUTH}"
    extra = urlencode({"code": code, "state": q["state"], "issuer": f"{issuer}/oauth2/v3"})
    query = f"{parts.query}&{extra}" if parts.query else extra
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    raise web.HTTPFound(location)


async def token(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    if "json" in request.headers.get("Content-Type", ""):
        try:
            raw = await request.json()
        except ValueError:
            return _oauth_error(OAuthError(400, "invalid_request", "body is not JSON"))
        form = {str(k): str(v) for k, v in (raw or {}).items()}
    else:
        form = {k: str(v) for k, v in (await request.post()).items()}
    grant = form.get("grant_type", "")
    client_id = form.get("client_id", "")
    now = sim.clock.timestamp()
    try:
        if grant == "authorization_code":
            if not sim.households.client_secret_ok(client_id, form.get("client_secret", "")):
                raise OAuthError(401, "invalid_client", "client authentication failed")
            result = sim.tokens.exchange_code(
                client_id=client_id,
                code=form.get("code", ""),
                redirect_uri=form.get("redirect_uri"),
                now=now,
                code_verifier=form.get("code_verifier"),
            )
        elif grant == "refresh_token":
            result = sim.tokens.refresh(
                client_id=client_id, refresh_token=form.get("refresh_token", ""), now=now
            )
        elif grant == "client_credentials":
            if not sim.households.client_secret_ok(client_id, form.get("client_secret", "")):
                raise OAuthError(401, "invalid_client", "client authentication failed")
            scopes = tuple(form.get("scope", "openid").split())
            result = sim.tokens.partner_token(client_id=client_id, scopes=scopes, now=now)
        else:
            raise OAuthError(400, "unsupported_grant_type", f"unsupported grant_type {grant!r}")
    except OAuthError as exc:
        return _oauth_error(exc)
    return json_response(result)


def routes() -> list[web.RouteDef]:
    out: list[web.RouteDef] = []
    for prefix in (FLEET, TESLEMETRY):
        api = f"{prefix}/api/1"
        site = f"{api}/energy_sites/{{site_id}}"
        out += [
            web.get(f"{api}/products", _guarded(products)),
            web.get(f"{site}/site_info", _guarded(site_info)),
            web.get(f"{site}/live_status", _guarded(live_status)),
            web.get(f"{site}/calendar_history", _guarded(calendar_history)),
            web.get(f"{api}/users/region", _guarded(users_region)),
        ]
        for name in (*_COMMANDS, "time_of_use_settings"):
            out.append(web.post(f"{site}/{name}", _guarded(_command(name))))
    out += [
        web.get(f"{FLEET}/status", fleet_status),
        web.post(f"{FLEET}/api/1/partner_accounts", _guarded(partner_register)),
        web.get(f"{FLEET}/api/1/partner_accounts/public_key", _guarded(partner_public_key)),
        web.get(f"{TESLEMETRY}/api/metadata", _guarded(teslemetry_metadata)),
        web.get(f"{AUTH}/oauth2/v3/authorize", authorize),
        web.post(f"{AUTH}/oauth2/v3/token", token),
    ]
    return out
