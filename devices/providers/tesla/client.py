"""Tesla energy-site client for the Fleet API and for Teslemetry.

Both services speak the same ``/api/1/...`` paths with a Bearer token and wrap answers in
``{"response": …}``; only the base URL and the token differ:

* Fleet API: ``FLEET_API_NA`` serves North America *and* Asia-Pacific, so Australia. A 421 means
  the account lives elsewhere; ``discover_region()`` asks ``GET /api/1/users/region``.
* Teslemetry: ``GET https://api.teslemetry.com/api/metadata`` names the account's region, after
  which requests go to ``https://{region}.teslemetry.com`` (``TeslaEnergyClient.for_teslemetry``).

The client is framework-free and synchronous: the caller injects a ``requests.Session`` (pooling,
proxies, test transport) and every call has a (connect, read) timeout. Each method makes exactly one
HTTP call (plus one region lookup after a 421) and never retries or sleeps: retry policy belongs to
the Celery task, guided by ``TeslaError.retryable`` and ``RateLimited.retry_after_s``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests

from . import _parse
from ._http import DEFAULT_TIMEOUT_S, HttpResult, send
from .errors import TeslaError, WrongRegion
from .models import (
    EXPORT_RULES,
    HISTORY_PERIODS,
    OPERATION_MODES,
    CommandResult,
    EnergyHistory,
    EnergySite,
    ExportRule,
    FleetRegion,
    HistoryPeriod,
    LiveStatus,
    OperationMode,
    SiteInfo,
    TeslemetryMetadata,
)

logger = logging.getLogger("devices.providers.tesla")

FLEET_API_NA = "https://fleet-api.prd.na.vn.cloud.tesla.com"
"""North America and Asia-Pacific (excluding China): the Fleet API host for Australia."""
FLEET_API_EU = "https://fleet-api.prd.eu.vn.cloud.tesla.com"
FLEET_API_CN = "https://fleet-api.prd.cn.vn.cloud.tesla.cn"
TESLEMETRY_API = "https://api.teslemetry.com"
TESLEMETRY_REGION_URL_TEMPLATE = "https://{region}.teslemetry.com"

_REGION_PATH = "/api/1/users/region"


def teslemetry_region_base_url(
    region: str, *, template: str = TESLEMETRY_REGION_URL_TEMPLATE
) -> str:
    """Base URL for a Teslemetry region code (``"NA"`` -> ``https://na.teslemetry.com``)."""
    return template.format(region=region.lower()).rstrip("/")


class TeslaEnergyClient:
    """Reads and commands for Tesla energy sites, over the Fleet API or Teslemetry.

    Args:
        access_token: Fleet API OAuth access token or Teslemetry access token. Never logged.
        session: Shared ``requests.Session``; the client does not close it.
        base_url: API root without a trailing ``/api/1`` (``FLEET_API_NA``, a Teslemetry
            regional URL, or the simulator's URL).
        timeout: (connect, read) seconds for every request.
        discover_region_on_421: After a 421, call ``GET /api/1/users/region`` once so the raised
            ``WrongRegion`` carries ``correct_base_url``. Switch off for Teslemetry, which routes
            regions itself.

    Every method raises a ``TeslaError`` subclass on failure (see ``errors``), and ``ValueError``
    for arguments that could never be valid (a caller bug, checked before any request).
    """

    def __init__(
        self,
        *,
        access_token: str,
        session: requests.Session,
        base_url: str = FLEET_API_NA,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT_S,
        discover_region_on_421: bool = True,
    ) -> None:
        if not access_token:
            raise ValueError("access_token is empty")
        self._access_token = access_token
        self._session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.discover_region_on_421 = discover_region_on_421

    def __repr__(self) -> str:  # the token stays out of reprs, logs and tracebacks
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @classmethod
    def for_teslemetry(
        cls,
        *,
        access_token: str,
        session: requests.Session,
        metadata_base_url: str = TESLEMETRY_API,
        region_url_template: str = TESLEMETRY_REGION_URL_TEMPLATE,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT_S,
    ) -> TeslaEnergyClient:
        """Ask Teslemetry for the account's region and return a client bound to that region.

        Costs one request; callers may store ``client.base_url`` per site and construct the
        client directly next time.
        """
        probe = cls(
            access_token=access_token,
            session=session,
            base_url=metadata_base_url,
            timeout=timeout,
            discover_region_on_421=False,
        )
        metadata = probe.teslemetry_metadata()
        return probe.with_base_url(
            teslemetry_region_base_url(metadata.region, template=region_url_template)
        )

    def with_base_url(self, base_url: str) -> TeslaEnergyClient:
        """The same client (token, session, timeout) pointed at another base URL."""
        return type(self)(
            access_token=self._access_token,
            session=self._session,
            base_url=base_url,
            timeout=self.timeout,
            discover_region_on_421=self.discover_region_on_421,
        )

    # ------------------------------------------------------------------ reads

    def products(self) -> list[EnergySite]:
        """Energy sites visible to the token (``GET /api/1/products``; vehicles are skipped)."""
        return _parse.parse_products(self._get("/api/1/products"))

    def site_info(self, energy_site_id: int) -> SiteInfo:
        """Configuration of one site, including the tariff in force (``tariff_content_v2``)."""
        return _parse.parse_site_info(self._get(_site_path(energy_site_id, "site_info")))

    def live_status(self, energy_site_id: int) -> LiveStatus:
        """Current power flows and battery level."""
        return _parse.parse_live_status(self._get(_site_path(energy_site_id, "live_status")))

    def calendar_history(
        self,
        energy_site_id: int,
        *,
        period: HistoryPeriod = "day",
        start: datetime | None = None,
        end: datetime | None = None,
        time_zone: str | None = None,
    ) -> EnergyHistory:
        """Energy totals per bucket (``calendar_history?kind=energy``), in Wh.

        Args:
            period: ``day`` | ``week`` | ``month`` | ``year`` | ``lifetime``.
            start, end: Aware datetimes bounding the series (sent as RFC 3339 with offset).
            time_zone: IANA zone Tesla uses to cut buckets (normally the site's zone).
        """
        if period not in HISTORY_PERIODS:
            raise ValueError(f"period must be one of {sorted(HISTORY_PERIODS)}")
        params = {"kind": "energy", "period": period}
        for name, moment in (("start_date", start), ("end_date", end)):
            if moment is None:
                continue
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime")
            params[name] = moment.isoformat(timespec="seconds")
        if time_zone:
            params["time_zone"] = time_zone
        payload = self._get(_site_path(energy_site_id, "calendar_history"), params=params)
        return _parse.parse_energy_history(payload)

    def discover_region(self) -> FleetRegion:
        """Which Fleet API region holds the account (``GET /api/1/users/region``).

        Needs the ``user_data`` scope.
        """
        return _parse.parse_region(self._get(_REGION_PATH))

    def teslemetry_metadata(self) -> TeslemetryMetadata:
        """Teslemetry's ``GET /api/metadata`` (not wrapped in the ``response`` envelope)."""
        result = self._request("GET", "/api/metadata")
        return _parse.parse_teslemetry_metadata(result.body)

    # --------------------------------------------------------------- commands

    def set_operation_mode(self, energy_site_id: int, mode: OperationMode) -> CommandResult:
        """``POST …/operation`` with ``{"default_real_mode": mode}``.

        ``autonomous`` is "Time-Based Control", the mode that follows the pushed tariff.
        """
        if mode not in OPERATION_MODES:
            raise ValueError(f"mode must be one of {sorted(OPERATION_MODES)}")
        return self._command(energy_site_id, "operation", {"default_real_mode": mode})

    def set_backup_reserve(self, energy_site_id: int, percent: int) -> CommandResult:
        """``POST …/backup`` with ``{"backup_reserve_percent": percent}`` (integer 0-100)."""
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ValueError("percent must be an integer from 0 to 100")
        return self._command(energy_site_id, "backup", {"backup_reserve_percent": percent})

    def set_grid_import_export(
        self,
        energy_site_id: int,
        *,
        export_rule: ExportRule | None = None,
        disallow_grid_charging: bool | None = None,
    ) -> CommandResult:
        """``POST …/grid_import_export``; only the given settings are sent.

        Args:
            export_rule: ``customer_preferred_export_rule``: ``never`` | ``pv_only`` |
                ``battery_ok``.
            disallow_grid_charging: ``disallow_charge_from_grid_with_solar_installed``.
        """
        body: dict[str, Any] = {}
        if export_rule is not None:
            if export_rule not in EXPORT_RULES:
                raise ValueError(f"export_rule must be one of {sorted(EXPORT_RULES)}")
            body["customer_preferred_export_rule"] = export_rule
        if disallow_grid_charging is not None:
            if not isinstance(disallow_grid_charging, bool):
                raise ValueError("disallow_grid_charging must be a bool")
            body["disallow_charge_from_grid_with_solar_installed"] = disallow_grid_charging
        if not body:
            raise ValueError("give export_rule and/or disallow_grid_charging")
        return self._command(energy_site_id, "grid_import_export", body)

    def set_time_of_use_settings(
        self, energy_site_id: int, tariff_content_v2: Mapping[str, Any]
    ) -> CommandResult:
        """Push a tariff: ``POST …/time_of_use_settings`` with
        ``{"tou_settings": {"tariff_content_v2": tariff}}``.

        The tariff is sent as given; the tariff engine builds and validates it. This method only
        refuses what is clearly not v2 (e.g. the legacy v1 shape without ``rates`` wrappers),
        and raises ``ValueError`` for non-finite numbers, before anything is sent.
        """
        _check_tariff_v2_shape(tariff_content_v2)
        body = {"tou_settings": {"tariff_content_v2": dict(tariff_content_v2)}}
        return self._command(energy_site_id, "time_of_use_settings", body)

    # --------------------------------------------------------------- plumbing

    def _command(self, energy_site_id: int, name: str, body: Mapping[str, Any]) -> CommandResult:
        result = self._request("POST", _site_path(energy_site_id, name), json_body=body)
        payload = _parse.unwrap(result.body, f"POST {name}")
        outcome = _parse.parse_command_result(
            payload, http_status=result.http_status, latency_ms=result.latency_ms
        )
        logger.info(
            "tesla command %s site=%s result=%s status=%s latency_ms=%.0f",
            name,
            energy_site_id,
            outcome.result,
            outcome.http_status,
            outcome.latency_ms,
        )
        return outcome

    def _get(self, path: str, *, params: Mapping[str, str] | None = None) -> Any:
        result = self._request("GET", path, params=params)
        return _parse.unwrap(result.body, f"GET {path}")

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> HttpResult:
        try:
            return send(
                self._session,
                method,
                self.base_url + path,
                timeout=self.timeout,
                secrets=(self._access_token,),
                bearer_token=self._access_token,
                params=params,
                json_body=json_body,
            )
        except WrongRegion as exc:
            if not self.discover_region_on_421 or path == _REGION_PATH:
                raise
            correct_base_url = self._correct_base_url()
            raise WrongRegion(
                str(exc),
                http_status=exc.http_status,
                error_code=exc.error_code,
                correct_base_url=correct_base_url,
            ) from None

    def _correct_base_url(self) -> str | None:
        try:
            return self.discover_region().base_url
        except TeslaError as exc:
            logger.debug("tesla region discovery after 421 failed: %s", type(exc).__name__)
            return None


def _site_path(energy_site_id: int, name: str) -> str:
    if isinstance(energy_site_id, bool) or not isinstance(energy_site_id, int):
        raise ValueError("energy_site_id must be an int")
    if energy_site_id <= 0:
        raise ValueError("energy_site_id must be positive")
    return f"/api/1/energy_sites/{energy_site_id}/{name}"


def _check_tariff_v2_shape(tariff: Mapping[str, Any]) -> None:
    if not isinstance(tariff, Mapping):
        raise ValueError("tariff_content_v2 must be a mapping")
    seasons = tariff.get("seasons")
    charges = tariff.get("energy_charges")
    if not isinstance(seasons, Mapping) or not isinstance(charges, Mapping):
        raise ValueError("tariff_content_v2 needs 'seasons' and 'energy_charges' objects")
    for season, entry in charges.items():
        # v2 wraps rates: {"Summer": {"rates": {...}}}; legacy v1 is {"Summer": {"PEAK": 0.4}}.
        if not isinstance(entry, Mapping) or (entry and "rates" not in entry):
            raise ValueError(
                f"energy_charges[{season!r}] is not v2-shaped (no 'rates'): legacy v1 tariff?"
            )
