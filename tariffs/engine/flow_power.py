"""Flow Power / wholesale plans: AEMO regional prices -> half-hour prices -> ``Built``/``Refused``.

Input prices (external_apis.md §3): AEMO regional RRP in **$/MWh ex-GST**; ``SETTLEMENTDATE`` is
NEM time (UTC+10 all year, no DST) and marks the interval END. ``PERIODTYPE`` ``ACTUAL`` rows are
5-minute dispatch prices; ``FORECAST`` rows are 30-minute predispatch prices (the ``5MIN`` report
shape; a bare list or ``{"5MIN": [...]}`` is accepted; ``REGIONID`` or ``REGION``).

Rules:

* **Half-hours.** As for Amber (``amber`` module docstring): END alignment, duration-weighted mean
  of the RRPs inside each half-hour, the same rolling 24 h window and local-time rule. An ACTUAL
  price beats a FORECAST for the same time.
* **No forecast.** AEMO predispatch reaches only to ~04:00 the next day, so a period whose chosen
  (tomorrow) half-hour has no price takes the price of the same wall-clock half-hour TODAY (a
  persistence forecast: the latest observed price for that time of day), and a note says so. Only
  when that is missing too does the freshness gate's gap rule apply (``freshness``).
* **Buy, automatic mode.** ``aemo_to_tariff.spot_to_tariff(interval_end, network, tariff, rrp)``
  gives c/kWh for the networks it knows (its loss factors and network rates; its GST handling);
  ``other_fees_c_per_kwh`` (+10 % GST) is added. Networks: energex, ergon, ausgrid, endeavour,
  essential, sapn, powercor, citipower/victoria (its generic Victorian tables), ausnet, jemena,
  united, tasnetworks, evoenergy. An unknown network or a tariff code the library does not list
  is a ``FlowPowerConfigError`` — the library itself would silently fall back to a linear guess.
  The conversion is linear in RRP within a network period, so converting the half-hour's mean
  RRP (at the half-hour's end) equals the mean of the converted 5-minute prices.
* **Buy, manual mode.** ``(rrp / 10 + network_c_per_kwh + other_fees_c_per_kwh) * 1.1`` where the
  network rate is flat or peak/shoulder/off-peak by local wall-clock windows (off-peak covers any
  time no other window does).
* **Sell.** Flow Power Happy Hour: 17:30-19:30 local every day pays 45 c/kWh in NSW1, QLD1 and
  SA1, 35 c/kWh in VIC1, and 0 c/kWh otherwise (TAS1, and all other times). Rates and window are
  configurable. The region comes from the price data.
* **Freshness.** The newest ACTUAL price plays the part of Amber's settled price.
"""

from __future__ import annotations

import importlib
import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from tariffs.engine.freshness import (
    DEFAULT_RULE,
    Built,
    FreshnessRule,
    PeriodPrices,
    Refused,
    build_from_period_prices,
)
from tariffs.engine.localtime import (
    HALF_HOUR_S,
    half_hour_starts_epoch_s,
    local_day,
    rolling_starts_epoch_s,
)
from tariffs.engine.model import PERIODS_PER_DAY, period_name
from tariffs.engine.settings import LocalWindow, TariffSettings, TariffSettingsError

NEM_TIME = timezone(timedelta(hours=10))
GST = 1.1
REGIONS = frozenset({"NSW1", "QLD1", "VIC1", "SA1", "TAS1"})
DEFAULT_HAPPY_HOUR_C_PER_KWH: Mapping[str, float] = {
    "NSW1": 45.0,
    "QLD1": 45.0,
    "SA1": 45.0,
    "VIC1": 35.0,
    "TAS1": 0.0,
}
HAPPY_HOUR = LocalWindow(17 * 60 + 30, 19 * 60 + 30)

# Our network name -> aemo_to_tariff module (the names the SPEC lists).
_NETWORK_MODULES: Mapping[str, str] = {
    "energex": "energex",
    "ergon": "ergon",
    "ausgrid": "ausgrid",
    "endeavour": "endeavour",
    "essential": "essential",
    "sapn": "sapower",
    "powercor": "powercor",
    "citipower": "victoria",
    "victoria": "victoria",
    "ausnet": "ausnet",
    "jemena": "jemena",
    "united": "united",
    "tasnetworks": "tasnetworks",
    "evoenergy": "evoenergy",
}
# The network name aemo_to_tariff.spot_to_tariff dispatches on.
_LIBRARY_NETWORK: Mapping[str, str] = {**{k: k for k in _NETWORK_MODULES}, "citipower": "victoria"}


class FlowPowerConfigError(ValueError):
    """Unknown network or tariff code, or an invalid manual network configuration."""


class AemoPayloadError(ValueError):
    """An AEMO price record is malformed (names the record's index and key)."""


@dataclass(frozen=True, slots=True)
class AemoPrice:
    region: str
    end_epoch_s: int
    duration_min: int
    rrp_dollars_per_mwh: float
    is_forecast: bool


def parse_aemo_prices(payload: object) -> list[AemoPrice]:
    """AEMO ``5MIN`` report rows -> typed prices. Raises ``AemoPayloadError``."""
    if isinstance(payload, dict) and "5MIN" in payload:
        payload = payload["5MIN"]
    if not isinstance(payload, list):
        raise AemoPayloadError("expected a JSON array of AEMO price records (or {'5MIN': [...]})")
    prices: list[AemoPrice] = []
    for index, row in enumerate(payload):
        if not isinstance(row, dict):
            raise AemoPayloadError(f"record {index}: expected an object")
        region = row.get("REGIONID", row.get("REGION"))
        if region not in REGIONS:
            raise AemoPayloadError(f"record {index}: unknown region {region!r}")
        kind = row.get("PERIODTYPE", "ACTUAL")
        if kind not in ("ACTUAL", "FORECAST"):
            raise AemoPayloadError(f"record {index}: unknown PERIODTYPE {kind!r}")
        text = row.get("SETTLEMENTDATE")
        try:
            end = datetime.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            end = None
        if end is None:
            raise AemoPayloadError(f"record {index}: SETTLEMENTDATE not ISO 8601: {text!r}")
        if end.tzinfo is None:  # NEM time carries no offset on the wire
            end = end.replace(tzinfo=NEM_TIME)
        rrp = row.get("RRP")
        if isinstance(rrp, bool) or not isinstance(rrp, int | float) or not math.isfinite(rrp):
            raise AemoPayloadError(f"record {index}: RRP must be a finite number, got {rrp!r}")
        duration = 30 if kind == "FORECAST" else 5
        end_s = int(end.timestamp())
        if end_s % (duration * 60):
            raise AemoPayloadError(
                f"record {index}: SETTLEMENTDATE not on a {duration}-min boundary"
            )
        prices.append(AemoPrice(region, end_s, duration, float(rrp), kind == "FORECAST"))
    return prices


@dataclass(frozen=True)
class ManualNetwork:
    """Manual mode network rates in c/kWh (ex-GST) with local wall-clock windows."""

    off_peak_c_per_kwh: float
    peak_c_per_kwh: float | None = None
    peak_windows: tuple[LocalWindow, ...] = ()
    shoulder_c_per_kwh: float | None = None
    shoulder_windows: tuple[LocalWindow, ...] = ()

    def rate_c_per_kwh(self, minute_of_day: int) -> float:
        if self.peak_c_per_kwh is not None and any(
            w.contains(minute_of_day) for w in self.peak_windows
        ):
            return self.peak_c_per_kwh
        if self.shoulder_c_per_kwh is not None and any(
            w.contains(minute_of_day) for w in self.shoulder_windows
        ):
            return self.shoulder_c_per_kwh
        return self.off_peak_c_per_kwh

    @classmethod
    def from_json(cls, data: object) -> ManualNetwork:
        """``{"flat_c_per_kwh": x}`` or ``{"off_peak_c_per_kwh": x, "peak_c_per_kwh": y,
        "peak_windows": [["16:00", "21:00"]], "shoulder_c_per_kwh": z, "shoulder_windows": [...]}``.
        """
        if not isinstance(data, dict):
            raise FlowPowerConfigError("manual network rates must be a JSON object")
        known = {
            "flat_c_per_kwh",
            "off_peak_c_per_kwh",
            "peak_c_per_kwh",
            "peak_windows",
            "shoulder_c_per_kwh",
            "shoulder_windows",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise FlowPowerConfigError(f"unknown manual network key(s): {', '.join(unknown)}")
        if "flat_c_per_kwh" in data:
            if set(data) != {"flat_c_per_kwh"}:
                raise FlowPowerConfigError("flat_c_per_kwh excludes the time-of-use keys")
            return cls(off_peak_c_per_kwh=_rate(data, "flat_c_per_kwh"))
        if "off_peak_c_per_kwh" not in data:
            raise FlowPowerConfigError("manual network needs flat_c_per_kwh or off_peak_c_per_kwh")
        return cls(
            off_peak_c_per_kwh=_rate(data, "off_peak_c_per_kwh"),
            peak_c_per_kwh=_rate(data, "peak_c_per_kwh") if "peak_c_per_kwh" in data else None,
            peak_windows=_windows(data, "peak_windows"),
            shoulder_c_per_kwh=(
                _rate(data, "shoulder_c_per_kwh") if "shoulder_c_per_kwh" in data else None
            ),
            shoulder_windows=_windows(data, "shoulder_windows"),
        )


def _rate(data: Mapping[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FlowPowerConfigError(f"{key} must be a finite number (c/kWh), got {value!r}")
    return float(value)


def _windows(data: Mapping[str, Any], key: str) -> tuple[LocalWindow, ...]:
    raw = data.get(key, [])
    if not isinstance(raw, list):
        raise FlowPowerConfigError(f"{key} must be a list of ['HH:MM', 'HH:MM'] pairs")
    windows = []
    for pair in raw:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise FlowPowerConfigError(f"{key}: expected ['HH:MM', 'HH:MM'], got {pair!r}")
        try:
            windows.append(LocalWindow.parse(pair[0], pair[1]))
        except TariffSettingsError as error:
            raise FlowPowerConfigError(f"{key}: {error}") from None
    return tuple(windows)


@dataclass(frozen=True)
class FlowPowerPlan:
    """Automatic (``network`` + ``tariff_code``) or manual (``manual``) pricing of one site."""

    network: str | None = None
    tariff_code: str | None = None
    manual: ManualNetwork | None = None
    other_fees_c_per_kwh: float = 0.0
    happy_hour_c_per_kwh: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_HAPPY_HOUR_C_PER_KWH)
    )
    happy_hour: LocalWindow = HAPPY_HOUR


def _network_module(network: str) -> ModuleType:
    module_name = _NETWORK_MODULES.get(network.lower())
    if module_name is None:
        known = ", ".join(sorted(_NETWORK_MODULES))
        raise FlowPowerConfigError(f"unknown network {network!r}; known: {known}")
    return importlib.import_module(f"aemo_to_tariff.{module_name}")


def known_tariff_codes(network: str, at: datetime) -> frozenset[str]:
    """Tariff codes aemo_to_tariff lists for ``network`` at the instant ``at``."""
    module = _network_module(network)
    get_tariffs = getattr(module, "get_tariffs", None)
    table = get_tariffs(at) if get_tariffs is not None else module.tariffs
    return frozenset(str(code) for code in table)


def check_plan(plan: FlowPowerPlan, at: datetime) -> None:
    """Raise ``FlowPowerConfigError`` unless the plan can be priced without guessing."""
    if plan.manual is not None:
        if plan.network is not None or plan.tariff_code is not None:
            raise FlowPowerConfigError("manual mode takes no network/tariff code")
        return
    if not plan.network or not plan.tariff_code:
        raise FlowPowerConfigError("automatic mode needs a network and a tariff code")
    module = _network_module(plan.network)
    codes = known_tariff_codes(plan.network, at)
    code = plan.tariff_code.strip().upper()
    translate = getattr(module, "translate_tariff", None)
    candidates = {code, translate(code) if translate else code}
    if plan.network.lower() == "energex":
        candidates.add(code[:4])  # energex looks up suffixed codes (6900X) by their first 4 digits
    if not candidates & codes:
        raise FlowPowerConfigError(
            f"tariff code {plan.tariff_code!r} is not known for network {plan.network!r}; "
            f"known: {', '.join(sorted(codes))}"
        )


def tariff_code_canonical(network: str, code: str, at: datetime) -> str | None:
    """``code`` as we keep it (upper case, no spaces) if ``network`` lists it at ``at``, else
    None. A code written as on the bill with its letters (Energex's NTC6900) reads as the
    number the network lists (6900)."""
    text = "".join(code.split()).upper()
    candidates = [text]
    number = text.lstrip(string.ascii_uppercase)
    if number and number != text:
        candidates.append(number)
    for candidate in candidates:
        try:
            check_plan(FlowPowerPlan(network=network, tariff_code=candidate), at)
        except FlowPowerConfigError:
            continue
        return candidate
    return None


def _buy_c_per_kwh(plan: FlowPowerPlan, rrp: float, end_utc: datetime, minute_of_day: int) -> float:
    fees = plan.other_fees_c_per_kwh
    if plan.manual is not None:
        return (rrp / 10 + plan.manual.rate_c_per_kwh(minute_of_day) + fees) * GST
    from aemo_to_tariff import spot_to_tariff

    assert plan.network is not None
    assert plan.tariff_code is not None
    try:
        library_c = spot_to_tariff(
            end_utc, _LIBRARY_NETWORK[plan.network.lower()], plan.tariff_code.strip().upper(), rrp
        )
    except (KeyError, ValueError) as error:
        raise FlowPowerConfigError(
            f"aemo_to_tariff could not price {plan.tariff_code}: {error}"
        ) from None
    return float(library_c) + fees * GST


def flow_power_period_prices(
    prices: Sequence[AemoPrice],
    *,
    plan: FlowPowerPlan,
    zone: ZoneInfo,
    now: datetime,
    explain: bool = False,
) -> PeriodPrices:
    starts_today = half_hour_starts_epoch_s(local_day(now, zone), zone)
    chosen_starts, is_tomorrow = rolling_starts_epoch_s(now, zone)
    check_plan(plan, now)
    regions = {p.region for p in prices}
    if len(regions) > 1:
        raise AemoPayloadError(f"prices of several regions: {', '.join(sorted(regions))}")
    region = next(iter(regions), None)

    # Actual prices first; a forecast only counts for a half-hour no actual reaches.
    weighted: dict[int, float] = {}
    covered: dict[int, int] = {}
    actual_buckets: set[int] = set()
    newest_actual_end = -1
    for price in sorted(prices, key=lambda p: p.is_forecast):
        start = price.end_epoch_s - price.duration_min * 60
        bucket = start // HALF_HOUR_S
        if price.is_forecast:
            if bucket in actual_buckets:
                continue
        else:
            actual_buckets.add(bucket)
            newest_actual_end = max(newest_actual_end, price.end_epoch_s)
        seconds = price.duration_min * 60
        weighted[bucket] = weighted.get(bucket, 0.0) + price.rrp_dollars_per_mwh * seconds
        covered[bucket] = covered.get(bucket, 0) + seconds

    buy: list[float | None] = []
    sell: list[float | None] = []
    starts: list[int] = []
    sources: list[str] = []
    notes: list[str] = []
    happy = plan.happy_hour_c_per_kwh.get(region or "", 0.0)
    for index in range(PERIODS_PER_DAY):
        start = chosen_starts[index]
        label = "today"
        if is_tomorrow[index]:
            label = "tomorrow"
            if start // HALF_HOUR_S not in covered:
                start, label = starts_today[index], "today (no forecast: persistence)"
                notes.append(f"{period_name(index)}: no AEMO forecast, today's price used")
        bucket = start // HALF_HOUR_S
        starts.append(start)
        covered_s = covered.get(bucket, 0)
        if covered_s:
            rrp = weighted[bucket] / covered_s  # duration-weighted mean $/MWh
            end_utc = datetime.fromtimestamp(start + HALF_HOUR_S, tz=UTC)
            buy.append(_buy_c_per_kwh(plan, rrp, end_utc, index * 30))
        else:
            buy.append(None)
        sell.append(happy if plan.happy_hour.contains(index * 30) else 0.0)
        if explain:
            local = datetime.fromtimestamp(start, tz=zone)
            kind = "actual" if bucket in actual_buckets else ("forecast" if covered_s else "none")
            sources.append(f"{label} {local:%Y-%m-%d %H:%M%z} AEMO {region} {kind}")
    return PeriodPrices(
        buy_c_per_kwh=buy,
        sell_c_per_kwh=sell,
        spike_flags=[False] * PERIODS_PER_DAY,
        starts_epoch_s=starts,
        newest_settled_start=(
            datetime.fromtimestamp(newest_actual_end - 300, tz=UTC)
            if newest_actual_end >= 0
            else None
        ),
        newest_settled_end=(
            datetime.fromtimestamp(newest_actual_end, tz=UTC) if newest_actual_end >= 0 else None
        ),
        has_buy_channel=bool(prices),
        sources=sources,
        notes=notes,
    )


def build_flow_power_rates(
    prices: Sequence[AemoPrice],
    *,
    plan: FlowPowerPlan,
    zone: ZoneInfo,
    now: datetime,
    settings: TariffSettings | None = None,
    rule: FreshnessRule = DEFAULT_RULE,
    explain: bool = False,
) -> Built | Refused:
    """AEMO prices + plan -> ``Built`` (48 rounded $/kWh buy/sell) or ``Refused``.

    Raises ``FlowPowerConfigError`` for an unknown network/tariff code (a configuration error, not
    a data problem: nothing to retry).
    """
    period_prices = flow_power_period_prices(prices, plan=plan, zone=zone, now=now, explain=explain)
    return build_from_period_prices(
        period_prices, now=now, settings=settings or TariffSettings(), rule=rule
    )
