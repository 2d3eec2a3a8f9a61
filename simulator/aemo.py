"""AEMO NEM dashboard JSON (visualisations.aemo.com.au) under ``/aemo``.

``GET /aemo/aemo/apps/api/report/ELEC_NEM_SUMMARY`` and ``POST /aemo/aemo/apps/api/report/5MIN``
(body ``{"timeScale": ["30MIN"]}``, HTTP 500 without it), so a client configured with base
``http://host:port/aemo`` requests exactly the real paths. Times are NEM time (UTC+10, no offset
in the string) and mark the interval END; prices are $/MWh ex GST and come from the same model as
Amber's ``spotPerKwh``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from .core import SIM, Simulator, json_response, raw_json
from .households import REGIONS
from .prices import FIVE_MIN, HALF_HOUR, NEM_OFFSET_S, NEM_TZ, SPIKE_RRP, nem_day, noise

PREFIX = "/aemo/aemo/apps/api/report"
_DEMAND_MW = {"NSW1": 7600.0, "QLD1": 6100.0, "VIC1": 4900.0, "SA1": 1400.0, "TAS1": 1050.0}
_INTERCONNECTORS = (
    ("N-Q-MNSP1", "NSW1", "QLD1"),
    ("NSW1-QLD1", "NSW1", "QLD1"),
    ("VIC1-NSW1", "VIC1", "NSW1"),
    ("T-V-MNSP1", "TAS1", "VIC1"),
    ("V-SA", "VIC1", "SA1"),
    ("V-S-MNSP1", "VIC1", "SA1"),
)


def _nem(ts: float) -> str:
    return datetime.fromtimestamp(ts, NEM_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _demand(sim: Simulator, region: str, end_ts: int) -> float:
    hour = ((end_ts + NEM_OFFSET_S) % 86_400) / 3600
    shape = 0.85 + 0.12 * (1 if 7 <= hour <= 9 else 0) + 0.2 * (1 if 17 <= hour <= 21 else 0)
    jitter = 1 + 0.03 * noise(sim.config.seed, len(region), end_ts // FIVE_MIN, 3)
    return round(_DEMAND_MW[region] * shape * jitter, 5)


def _row(sim: Simulator, region: str, end_ts: int, rrp: float) -> dict[str, Any]:
    demand = _demand(sim, region, end_ts)
    interchange = round(demand * 0.05 * noise(sim.config.seed, len(region), end_ts, 5), 5)
    semi = round(demand * 0.25 * (1 + noise(sim.config.seed, len(region), end_ts, 6)) / 2, 5)
    return {
        "SETTLEMENTDATE": _nem(end_ts),
        "REGIONID": region,
        "RRP": round(rrp, 5),
        "TOTALDEMAND": demand,
        "NETINTERCHANGE": interchange,
        "SCHEDULEDGENERATION": round(demand - semi - interchange, 5),
        "SEMISCHEDULEDGENERATION": semi,
    }


def summary_json(sim: Simulator) -> bytes:
    now = sim.prices.now()
    key = ("aemo-summary", now.current5_end, sim.world.version)
    cached = sim.prices.cache.get(key)
    if cached is not None:
        return bytes(cached)
    end = now.current5_end
    summary = []
    prices = []
    for region in REGIONS:
        rrp = sim.prices.rrp(region, end, forecast=False)
        row = _row(sim, region, end, rrp)
        flows = [
            {
                "name": name,
                "value": round(row["NETINTERCHANGE"] * (1 if a == region else -1), 2),
                "exportlimit": 1000,
                "importlimit": -1000,
            }
            for name, a, b in _INTERCONNECTORS
            if region in (a, b)
        ]
        summary.append(
            {
                "SETTLEMENTDATE": row["SETTLEMENTDATE"],
                "REGIONID": region,
                "PRICE": row["RRP"],
                "PRICE_STATUS": "FIRM",
                "APCFLAG": 0,
                "MARKETSUSPENDEDFLAG": 0,
                "TOTALDEMAND": row["TOTALDEMAND"],
                "NETINTERCHANGE": row["NETINTERCHANGE"],
                "SCHEDULEDGENERATION": row["SCHEDULEDGENERATION"],
                "SEMISCHEDULEDGENERATION": row["SEMISCHEDULEDGENERATION"],
                "INTERCONNECTORFLOWS": json.dumps(flows),
            }
        )
        fcas = {
            name: round(abs(noise(sim.config.seed, end, len(name), len(region))) * 15, 2)
            for name in (
                "RAISEREGRRP",
                "LOWERREGRRP",
                "RAISE1SECRRP",
                "RAISE6SECRRP",
                "RAISE60SECRRP",
                "RAISE5MINRRP",
                "LOWER1SECRRP",
                "LOWER6SECRRP",
                "LOWER60SECRRP",
                "LOWER5MINRRP",
            )
        }
        prices.append({"REGIONID": region, "RRP": row["RRP"], **fcas})
    notices = []
    for spike in sim.world.spikes:
        if spike.rrp_dollars_per_mwh >= SPIKE_RRP and spike.start_ts < end <= spike.end_ts:
            notices.append(
                {
                    "NOTICEID": 100000 + int(spike.start_ts // FIVE_MIN) % 100000,
                    "EFFECTIVEDATE": _nem(spike.start_ts),
                    "EXTERNALREFERENCE": f"[EventId:{spike.region}] Price spike in {spike.region}",
                    "TYPEID": "PRICES SUBJECT TO REVIEW",
                    "REASON": f"Dispatch price of {spike.rrp_dollars_per_mwh:.2f} $/MWh in "
                    f"{spike.region} is subject to review.",
                }
            )
    body = json.dumps(
        {
            "ELEC_NEM_SUMMARY": summary,
            "ELEC_NEM_SUMMARY_PRICES": prices,
            "ELEC_NEM_SUMMARY_MARKET_NOTICE": notices,
        },
        separators=(",", ":"),
    ).encode()
    sim.prices.cache.put(key, body)
    return body


async def nem_summary(request: web.Request) -> web.Response:
    return raw_json(summary_json(request.app[SIM]))


def five_minute_json(sim: Simulator) -> bytes:
    now = sim.prices.now()
    key = ("aemo-5min", now.current5_end, sim.world.version)
    cached = sim.prices.cache.get(key)
    if cached is not None:
        return bytes(cached)
    last = now.current5_end
    # Predispatch reaches about 04:00 NEM time the next day.
    forecast_stop = (nem_day(last) + 1) * 86_400 - NEM_OFFSET_S + 4 * 3600
    rows: list[dict[str, Any]] = []
    for region in REGIONS:
        for end in range(last - 287 * FIVE_MIN, last + 1, FIVE_MIN):
            row = _row(sim, region, end, sim.prices.rrp(region, end, forecast=False))
            rows.append({**row, "REGION": region, "PERIODTYPE": "ACTUAL", "APCFLAG": 0})
        end = (last // HALF_HOUR) * HALF_HOUR + HALF_HOUR
        while end <= forecast_stop:
            rrp = (
                sum(
                    sim.prices.rrp(region, e, forecast=True)
                    for e in range(end - HALF_HOUR + FIVE_MIN, end + 1, FIVE_MIN)
                )
                / 6
            )
            rows.append(
                {
                    **_row(sim, region, end, rrp),
                    "REGION": region,
                    "PERIODTYPE": "FORECAST",
                    "APCFLAG": 0,
                }
            )
            end += HALF_HOUR
    body = json.dumps({"5MIN": rows}, separators=(",", ":")).encode()
    sim.prices.cache.put(key, body)
    return body


async def five_minute(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("timeScale"):
        return json_response({"error": "timeScale is required"}, status=500)
    return raw_json(five_minute_json(request.app[SIM]))


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"{PREFIX}/ELEC_NEM_SUMMARY", nem_summary),
        web.post(f"{PREFIX}/5MIN", five_minute),
    ]
