"""Price model: the real Amber day of 2025-06-28, replayed on every simulated NEM day.

The shape comes from ``data/amber_prices_2025-06-28_resolution5.json`` (a real
``GET /sites/{id}/prices?resolution=5`` response, see simulator/README.md for provenance). Each
5-minute slot of the NEM day (interval *end*, UTC+10) keeps its spot price, the network part of the
general price, the feed-in ratio, renewables, tariff period and the advanced-price band. A region
factor and small deterministic noise (seeded by region, NEM day and slot) make every region and day
differ; forecasts carry their own error so a settled price differs from what was forecast.

Units: every price here is c/kWh **including GST**, like Amber's ``spotPerKwh``/``perKwh``.
AEMO's RRP ($/MWh ex GST) is ``spot * 10 / 1.1``. Feed-in ``perKwh`` is negative when the
household earns.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .clock import SimClock
from .households import REGIONS
from .scenarios import World

NEM_TZ = timezone(timedelta(hours=10))
NEM_OFFSET_S = 36_000
FIVE_MIN = 300
HALF_HOUR = 1800
SLOTS_PER_DAY = 288
SPIKE_RRP = 300.0  # $/MWh at or above which Amber reports a spike (simulator's rule)
DATA_FILE = Path(__file__).with_name("data") / "amber_prices_2025-06-28_resolution5.json"

REGION_FACTOR = {"NSW1": 1.0, "QLD1": 0.93, "VIC1": 0.88, "SA1": 1.12, "TAS1": 0.82}
_REGION_NUMBER = {region: i + 1 for i, region in enumerate(REGIONS)}
_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def noise(*parts: int) -> float:
    """Deterministic value in [-1, 1) from integer parts."""
    x = 0x1234567
    for part in parts:
        x = _mix(x ^ (part & _M64))
    return x / 2.0**63 - 1.0


@dataclass(frozen=True, slots=True)
class Slot:
    spot: float
    general_net: float
    feed_ratio: float
    renewables: float
    period: str
    adv_general: tuple[float, float, float]
    adv_feed: tuple[float, float, float]


def slot_of_end(end_ts: float) -> int:
    """0-based 5-minute slot of the NEM day for an interval ending at ``end_ts`` (00:05 -> 0)."""
    seconds = int(end_ts + NEM_OFFSET_S) % 86_400
    return (seconds // FIVE_MIN - 1) % SLOTS_PER_DAY


def nem_day(end_ts: float) -> int:
    """Ordinal NEM day of an interval (the interval ending 00:00 belongs to the day before)."""
    return int(end_ts + NEM_OFFSET_S - 1) // 86_400


def load_profile(path: Path = DATA_FILE) -> list[Slot]:
    rows = json.loads(path.read_text())
    general = [r for r in rows if r["channelType"] == "general"]
    feed = {r["nemTime"] + str(r["duration"]): r for r in rows if r["channelType"] == "feedIn"}
    day = general[0]["date"]
    per_slot: dict[int, dict[str, Any]] = {}
    adv: dict[int, tuple[tuple[float, float, float], tuple[float, float, float]]] = {}
    for g in general:
        f = feed[g["nemTime"] + str(g["duration"])]
        end = datetime.fromisoformat(g["nemTime"])
        end_ts = end.timestamp()
        if "advancedPrice" in g and "advancedPrice" in f:
            a, b = g["advancedPrice"], f["advancedPrice"]
            half = slot_of_end(end_ts) // 6
            adv.setdefault(
                half,
                (
                    (a["low"] / g["perKwh"], a["predicted"] / g["perKwh"], a["high"] / g["perKwh"]),
                    (b["low"] / f["perKwh"], b["predicted"] / f["perKwh"], b["high"] / f["perKwh"]),
                ),
            )
        if g["date"] != day:
            continue
        last = slot_of_end(end_ts)
        spot = g["spotPerKwh"]
        values = {
            "spot": spot,
            "general_net": g["perKwh"] - spot,
            "feed_ratio": min(1.0, max(0.85, -f["perKwh"] / spot)) if spot > 0 else 0.95,
            "renewables": g["renewables"],
            "period": g.get("tariffInformation", {}).get("period", "offPeak"),
        }
        for slot in range(last - g["duration"] // 5 + 1, last + 1):
            per_slot.setdefault(slot % SLOTS_PER_DAY, values)
    default_adv = ((0.85, 0.9, 1.05), (0.55, 0.65, 0.8))
    profile = []
    for slot in range(SLOTS_PER_DAY):
        v = per_slot[slot]
        gen_adv, feed_adv = adv.get(slot // 6, default_adv)
        profile.append(
            Slot(
                spot=v["spot"],
                general_net=v["general_net"],
                feed_ratio=v["feed_ratio"],
                renewables=v["renewables"],
                period=v["period"],
                adv_general=gen_adv,
                adv_feed=feed_adv,
            )
        )
    return profile


def _iso_z(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nem_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, NEM_TZ).strftime("%Y-%m-%dT%H:%M:%S+10:00")


def _nem_date(end_ts: float) -> str:
    return datetime.fromtimestamp(end_ts - 1, NEM_TZ).strftime("%Y-%m-%d")


def _season(end_ts: float) -> str:
    month = datetime.fromtimestamp(end_ts - 1, NEM_TZ).month
    return ("summer", "autumn", "winter", "spring")[(month % 12) // 3]


def general_descriptor(per_kwh: float, spiking: bool) -> str:
    if spiking:
        return "spike"
    if per_kwh < 16:
        return "extremelyLow"
    if per_kwh < 30:
        return "veryLow"
    if per_kwh < 38:
        return "low"
    if per_kwh < 50:
        return "neutral"
    return "high"


def feed_in_descriptor(per_kwh: float) -> str:
    # Seen from the household: how good exporting is (negative perKwh = earning).
    if per_kwh >= 0:
        return "extremelyLow"
    if per_kwh > -3:
        return "veryLow"
    if per_kwh > -8:
        return "low"
    if per_kwh > -12:
        return "neutral"
    return "high"


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Any:
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        self.data[key] = value
        if len(self.data) > self.size:
            self.data.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Now:
    """The simulator clock as the price labelling sees it."""

    ts: float
    current5_end: int
    settled: bool

    @property
    def key(self) -> tuple[int, bool]:
        return (self.current5_end, self.settled)


class PriceModel:
    def __init__(self, world: World, clock: SimClock, *, seed: int, settle_s: float = 35.0):
        self.world = world
        self.clock = clock
        self.seed = seed
        self.settle_s = settle_s
        self.profile = load_profile()
        self.cache = _LRU(4096)

    # -- time ----------------------------------------------------------------------------------
    def now(self) -> Now:
        ts = self.clock.timestamp()
        start = int(ts // FIVE_MIN) * FIVE_MIN
        return Now(ts=ts, current5_end=start + FIVE_MIN, settled=ts - start >= self.settle_s)

    # -- raw values ----------------------------------------------------------------------------
    def spot(self, region: str, end_ts: int, *, forecast: bool) -> float:
        """Spot price c/kWh incl. GST for the 5-minute interval ending ``end_ts``."""
        world = self.world
        for spike in world.spikes:
            if spike.region == region and spike.start_ts < end_ts <= spike.end_ts:
                return spike.rrp_dollars_per_mwh * 1.1 / 10
        slot = slot_of_end(end_ts)
        day = nem_day(end_ts)
        rn = _REGION_NUMBER[region]
        nf = world.negative_feed_in
        if nf is not None and region in nf.regions:
            minute = ((slot + 1) * 5) % 1440 or 1440
            if nf.start_minute < minute <= nf.end_minute:
                return nf.spot_c_per_kwh * (1 + 0.2 * noise(self.seed, rn, day, slot, 7))
        value = self.profile[slot].spot * REGION_FACTOR[region]
        value *= 1 + 0.08 * noise(self.seed, rn, day, slot)
        if forecast:
            value *= 1 + 0.1 * noise(self.seed, rn + 31, day, slot)
        return value

    def rrp(self, region: str, end_ts: int, *, forecast: bool) -> float:
        """AEMO regional reference price, $/MWh ex GST."""
        return self.spot(region, end_ts, forecast=forecast) * 10 / 1.1

    def renewables(self, region: str, end_ts: int) -> float:
        slot = slot_of_end(end_ts)
        base = self.profile[slot].renewables
        return max(0.0, base * (1 + 0.15 * noise(self.seed, _REGION_NUMBER[region] + 61, slot)))

    # -- intervals -----------------------------------------------------------------------------
    def interval_pair(
        self, region: str, end_ts: int, duration: int, now: Now
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(general, feedIn) interval dicts labelled relative to ``now`` as Amber labels them."""
        step = duration * 60
        current_end = (int(now.ts) // step) * step + step
        if end_ts < current_end:
            kind = "ActualInterval"
        elif end_ts == current_end:
            kind = "CurrentInterval"
        else:
            kind = "ForecastInterval"
        spots = []
        nets = []
        ratios = []
        for slot_end in range(end_ts - step + FIVE_MIN, end_ts + 1, FIVE_MIN):
            if slot_end < now.current5_end:
                forecast = False
            elif slot_end == now.current5_end:
                forecast = not now.settled
            else:
                forecast = True
            spots.append(self.spot(region, slot_end, forecast=forecast))
            prof = self.profile[slot_of_end(slot_end)]
            nets.append(prof.general_net)
            ratios.append(prof.feed_ratio)
        count = len(spots)
        spot = sum(spots) / count
        general = spot + sum(nets) / count
        feed = -spot * (sum(ratios) / count)
        rrp = spot * 10 / 1.1
        if rrp >= SPIKE_RRP:
            spike_status = "potential" if kind == "ForecastInterval" else "spike"
        else:
            spike_status = "none"
        prof = self.profile[slot_of_end(end_ts)]
        common = {
            "type": kind,
            "date": _nem_date(end_ts),
            "duration": duration,
            "startTime": _iso_z(end_ts - step + 1),
            "endTime": _iso_z(end_ts),
            "nemTime": _nem_iso(end_ts),
        }
        renew = self.renewables(region, end_ts)
        g: dict[str, Any] = {
            **common,
            "perKwh": round(general, 5),
            "renewables": renew,
            "spotPerKwh": round(spot, 5),
            "channelType": "general",
            "spikeStatus": spike_status,
            "tariffInformation": {"period": prof.period, "season": _season(end_ts)},
            "descriptor": general_descriptor(general, spike_status == "spike"),
        }
        f: dict[str, Any] = {
            **common,
            "perKwh": round(feed, 5),
            "renewables": renew,
            "spotPerKwh": round(spot, 5),
            "channelType": "feedIn",
            "spikeStatus": spike_status,
            "descriptor": feed_in_descriptor(feed),
        }
        with_advanced = kind == "ForecastInterval"
        if kind == "CurrentInterval":
            if duration == 5:
                estimate = not now.settled
            else:
                estimate = not (end_ts == now.current5_end and now.settled)
            g["estimate"] = f["estimate"] = estimate
            with_advanced = estimate
        if with_advanced and end_ts <= self._advanced_horizon(now):
            g["advancedPrice"] = _band(general, prof.adv_general)
            f["advancedPrice"] = _band(feed, prof.adv_feed)
        return g, f

    @staticmethod
    def _advanced_horizon(now: Now) -> int:
        # Observed: advancedPrice on forecasts up to ~24.5 h past the current half-hour's end.
        half_end = (int(now.ts) // HALF_HOUR) * HALF_HOUR + HALF_HOUR
        return half_end + 24 * 3600 + HALF_HOUR

    @staticmethod
    def five_minute_forecast_end(now: Now) -> int:
        """Last end of a 5-minute forecast at resolution 5.

        Observed: called during the interval ending 16:25, 5-minute forecasts ran to 17:00 and
        30-minute ones followed. Rule (inference, fits AEMO's one-hour P5MIN horizon): 5-minute
        forecasts up to the last half-hour boundary within an hour of the current interval's end.
        """
        return ((now.current5_end + 3600) // HALF_HOUR) * HALF_HOUR

    @staticmethod
    def forecast_horizon(now: Now) -> int:
        """Last interval end with a forecast: midnight (NEM) at the end of tomorrow."""
        return (nem_day(now.current5_end) + 2) * 86_400 - NEM_OFFSET_S

    def _ends(self, now: Now, resolution: int, previous: int, next_: int) -> list[tuple[int, int]]:
        """(end_ts, duration) for prices/current: previous actuals, current, next forecasts."""
        step = resolution * 60
        current_end = (int(now.ts) // step) * step + step
        ends = [(current_end - step * i, resolution) for i in range(previous, 0, -1)]
        ends.append((current_end, resolution))
        horizon = self.forecast_horizon(now)
        end = current_end
        five_until = self.five_minute_forecast_end(now)
        for _ in range(next_):
            # Like /prices at resolution 5: 5-minute forecasts for about an hour, then 30-minute.
            duration = 5 if resolution == 5 and end < five_until else 30
            end += duration * 60
            if end > horizon:
                break
            ends.append((end, duration))
        return ends

    def _range_ends(
        self, now: Now, resolution: int, first_day: int, last_day: int
    ) -> list[tuple[int, int]]:
        start = first_day * 86_400 - NEM_OFFSET_S
        stop = min((last_day + 1) * 86_400 - NEM_OFFSET_S, self.forecast_horizon(now))
        ends: list[tuple[int, int]] = []
        if resolution == 30:
            return [(e, 30) for e in range(start + HALF_HOUR, stop + 1, HALF_HOUR)]
        five_until = self.five_minute_forecast_end(now)
        end = start
        while True:
            duration = 5 if end < five_until else 30
            if duration == 30 and end % HALF_HOUR:
                duration = 5
            end += duration * 60
            if end > stop:
                break
            ends.append((end, duration))
        return ends

    def _render(self, region: str, ends: list[tuple[int, int]], now: Now) -> bytes:
        generals = []
        feeds = []
        for end_ts, duration in ends:
            g, f = self.interval_pair(region, end_ts, duration, now)
            generals.append(g)
            feeds.append(f)
        return json.dumps(generals + feeds, separators=(",", ":")).encode()

    def current_body(self, region: str, resolution: int, previous: int, next_: int) -> bytes:
        now = self.now()
        key = ("cur", region, resolution, previous, next_, now.key, self.world.version)
        body = self.cache.get(key)
        if body is None:
            body = self._render(region, self._ends(now, resolution, previous, next_), now)
            self.cache.put(key, body)
        return body

    def range_body(self, region: str, resolution: int, first_day: int, last_day: int) -> bytes:
        now = self.now()
        key = ("range", region, resolution, first_day, last_day, now.key, self.world.version)
        body = self.cache.get(key)
        if body is None:
            body = self._render(region, self._range_ends(now, resolution, first_day, last_day), now)
            self.cache.put(key, body)
        return body

    def current_prices_json(self, region: str, resolution: int) -> str:
        """JSON array of the CurrentInterval per channel (for the live WebSocket)."""
        now = self.now()
        key = ("ws", region, resolution, now.key, self.world.version)
        text = self.cache.get(key)
        if text is None:
            step = resolution * 60
            end = (int(now.ts) // step) * step + step
            g, f = self.interval_pair(region, end, resolution, now)
            text = json.dumps([g, f], separators=(",", ":"))
            self.cache.put(key, text)
        return str(text)

    def current_general_and_feed(self, region: str) -> tuple[float, float]:
        """Current 5-minute (general perKwh, feedIn perKwh), c/kWh."""
        now = self.now()
        g, f = self.interval_pair(region, now.current5_end, 5, now)
        return g["perKwh"], f["perKwh"]


def _band(value: float, ratios: tuple[float, float, float]) -> dict[str, float]:
    low, predicted, high = (round(value * r, 5) for r in ratios)
    if not all(math.isfinite(v) for v in (low, predicted, high)):
        low = predicted = high = round(value, 5)
    return {"low": low, "predicted": predicted, "high": high}


def nem_day_of_date(text: str) -> int:
    """Ordinal NEM day of an ISO date (same numbering as :func:`nem_day`)."""
    d = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(d.timestamp()) // 86_400
