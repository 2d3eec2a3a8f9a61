"""Amber price intervals -> raw prices for Tesla's 48 half-hours -> ``Built`` or ``Refused``.

Input: the JSON list of ``GET /sites/{id}/prices`` or ``/prices/current`` (camelCase, all channels;
external_apis.md §1.4), parsed once by ``parse_amber_intervals`` into ``AmberInterval`` values.

Rules (SPEC §3, §4.1-4.5):

* **Alignment by END.** An interval covers ``[endTime - duration, endTime)``; ``startTime`` is
  ignored (Amber writes it as the previous end + 1 s). The interval ending 18:00 local therefore
  falls in ``PERIOD_17_30``.
* **Averaging.** A half-hour's price is the duration-weighted mean of the intervals inside it, so
  5-minute, 30-minute and mixed data (actual, current and forecast together) all work. An interval
  straddling a half-hour boundary is split by overlap. If two intervals overlap (e.g. a merged
  5- and 30-minute download), the higher-ranked kind wins (actual > current > forecast), then the
  finer resolution; anything still overlapping is a payload error.
* **Rolling 24 h.** ``now``'s local date is "today". A period whose today half-hour has not ended
  at ``now`` (the current one included) takes today's price; a period already over takes the same
  wall-clock half-hour tomorrow (``localtime.rolling_starts_epoch_s``, with its DST rules).
* **Which price.** ``ActualInterval`` -> ``perKwh``. Current and forecast intervals -> the site's
  ``forecast_type`` from ``advancedPrice`` (``predicted`` by default, or ``low``/``high``), or raw
  ``perKwh``; ``perKwh`` when the interval has no ``advancedPrice``.
* **Channels.** ``general`` -> buy. ``feedIn`` -> sell with the sign flipped: Amber's feed-in
  ``perKwh`` is what the customer pays to export (negative = earns) and Tesla's sell rate is what
  the household earns, so sell = -perKwh. ``controlledLoad`` is ignored. With no feed-in channel at
  all, sell is 0 in every period and a note says so.
* **Spikes.** A half-hour is flagged when any general interval in it has ``spikeStatus``
  ``potential`` or ``spike``.
* Units: Amber is c/kWh incl. GST; everything here stays in c/kWh until ``adjustments`` turns it
  into rounded $/kWh. The hot loop uses floats (no Decimal) for speed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from tariffs.engine.calibration import ForecastCalibration
from tariffs.engine.freshness import (
    DEFAULT_RULE,
    Built,
    FreshnessRule,
    PeriodPrices,
    Refused,
    build_from_period_prices,
)
from tariffs.engine.localtime import HALF_HOUR_S, local_day, rolling_starts_epoch_s
from tariffs.engine.model import PERIODS_PER_DAY, period_name
from tariffs.engine.settings import ForecastType, TariffSettings

ACTUAL = "ActualInterval"
CURRENT = "CurrentInterval"
FORECAST = "ForecastInterval"
_KIND_RANK = {ACTUAL: 3, CURRENT: 2, FORECAST: 1}
_KIND_LETTER = {ACTUAL: "A", CURRENT: "C", FORECAST: "F"}

GENERAL = "general"
FEED_IN = "feedIn"
CONTROLLED_LOAD = "controlledLoad"
_CHANNELS = frozenset({GENERAL, FEED_IN, CONTROLLED_LOAD})
_SPIKE_STATUSES = frozenset({"none", "potential", "spike"})
_DURATIONS_MIN = frozenset({5, 15, 30})
# Index into AmberInterval.advanced_c_per_kwh for each forecast choice.
_ADVANCED_INDEX = {
    ForecastType.LOW: 0,
    ForecastType.PREDICTED: 1,
    ForecastType.HIGH: 2,
    ForecastType.CALIBRATED: 1,
}


class AmberPayloadError(ValueError):
    """An Amber interval is malformed (names the interval's index and the offending key)."""


class AmberInterval(NamedTuple):
    """One Amber price interval. Prices in c/kWh incl. GST, as Amber sends them.

    A NamedTuple rather than a frozen dataclass: a full day is ~500 of them, and tuple
    construction is several times cheaper (the benchmark includes parsing).
    """

    kind: str  # ActualInterval | CurrentInterval | ForecastInterval
    channel: str  # general | feedIn | controlledLoad
    duration_min: int
    end_epoch_s: int  # POSIX seconds of endTime
    per_kwh_c_per_kwh: float
    advanced_c_per_kwh: tuple[float, float, float] | None  # (low, predicted, high)
    spike_status: str

    @property
    def start_epoch_s(self) -> int:
        return self.end_epoch_s - self.duration_min * 60

    @property
    def end_utc(self) -> datetime:
        return datetime.fromtimestamp(self.end_epoch_s, tz=UTC)

    def price_c_per_kwh(
        self, forecast_type: ForecastType, calibration: ForecastCalibration | None = None
    ) -> float:
        if self.kind == ACTUAL or self.advanced_c_per_kwh is None:
            return self.per_kwh_c_per_kwh
        if forecast_type is ForecastType.PER_KWH:
            return self.per_kwh_c_per_kwh
        price = self.advanced_c_per_kwh[_ADVANCED_INDEX[forecast_type]]
        if calibration is None:
            return price
        return calibration.price(self.channel, self.start_epoch_s, price, self.per_kwh_c_per_kwh)


_isfinite = math.isfinite


def _number(item: dict[str, Any], key: str, index: int) -> float:
    value = item.get(key)
    kind = type(value)
    if (kind is float or kind is int) and _isfinite(value):  # type: ignore[arg-type]
        return float(value)  # type: ignore[arg-type]
    raise AmberPayloadError(f"interval {index}: {key} must be a finite number, got {value!r}")


def _end_epoch_s(end_text: object, index: int, cache: dict[str, int]) -> int:
    if not isinstance(end_text, str):
        raise AmberPayloadError(f"interval {index}: endTime missing")
    cached = cache.get(end_text)
    if cached is not None:
        return cached
    try:
        end = datetime.fromisoformat(end_text)
    except ValueError:
        raise AmberPayloadError(f"interval {index}: endTime not ISO 8601: {end_text!r}") from None
    if end.tzinfo is None:
        raise AmberPayloadError(f"interval {index}: endTime has no UTC offset: {end_text!r}")
    end_epoch_s = int(end.timestamp())
    if end_epoch_s % 300:
        raise AmberPayloadError(f"interval {index}: endTime not on a 5-minute boundary")
    cache[end_text] = end_epoch_s
    return end_epoch_s


def parse_amber_interval(
    item: object, index: int = 0, end_cache: dict[str, int] | None = None
) -> AmberInterval:
    """One interval dict -> ``AmberInterval``; ``AmberPayloadError`` names the index and key."""
    if type(item) is not dict:
        raise AmberPayloadError(f"interval {index}: expected an object, got {type(item).__name__}")
    get = item.get
    kind = get("type")
    if kind not in _KIND_RANK:
        raise AmberPayloadError(f"interval {index}: unknown type {kind!r}")
    channel = get("channelType")
    if channel not in _CHANNELS:
        raise AmberPayloadError(f"interval {index}: unknown channelType {channel!r}")
    duration = get("duration")
    if type(duration) is not int or duration not in _DURATIONS_MIN:
        raise AmberPayloadError(f"interval {index}: duration must be 5, 15 or 30, got {duration!r}")
    end_epoch_s = _end_epoch_s(get("endTime"), index, {} if end_cache is None else end_cache)
    spike = get("spikeStatus")
    if spike not in _SPIKE_STATUSES:
        raise AmberPayloadError(f"interval {index}: unknown spikeStatus {spike!r}")
    advanced_raw = get("advancedPrice")
    advanced: tuple[float, float, float] | None = None
    if advanced_raw is not None:
        if type(advanced_raw) is not dict:
            raise AmberPayloadError(f"interval {index}: advancedPrice must be an object")
        advanced = (
            _number(advanced_raw, "low", index),
            _number(advanced_raw, "predicted", index),
            _number(advanced_raw, "high", index),
        )
    return AmberInterval(
        kind, channel, duration, end_epoch_s, _number(item, "perKwh", index), advanced, spike
    )


def parse_amber_intervals(payload: object) -> list[AmberInterval]:
    """The bare JSON array Amber returns -> typed intervals. Raises ``AmberPayloadError``."""
    if not isinstance(payload, list):
        raise AmberPayloadError("expected a JSON array of intervals")
    end_cache: dict[str, int] = {}  # both channels repeat every endTime
    return [parse_amber_interval(item, index, end_cache) for index, item in enumerate(payload)]


class _Channel:
    """Duration-weighted sums per UTC half-hour bucket (bucket = epoch seconds // 1800)."""

    __slots__ = ("covered_s", "intervals", "weighted")

    def __init__(self) -> None:
        self.weighted: dict[int, float] = {}
        self.covered_s: dict[int, int] = {}
        self.intervals: list[AmberInterval] = []

    def add(self, bucket: int, price: float, seconds: int) -> None:
        if bucket in self.covered_s:
            self.weighted[bucket] += price * seconds
            self.covered_s[bucket] += seconds
        else:
            self.weighted[bucket] = price * seconds
            self.covered_s[bucket] = seconds

    def mean(self, bucket: int) -> float | None:
        covered = self.covered_s.get(bucket)
        return None if not covered else self.weighted[bucket] / covered


def _accumulate(channel: _Channel, iv: AmberInterval, price: float) -> None:
    """Split an interval that straddles half-hour boundaries by overlap."""
    end = iv.end_epoch_s
    start = end - iv.duration_min * 60
    bucket = start // HALF_HOUR_S
    while bucket * HALF_HOUR_S < end:
        lo = max(start, bucket * HALF_HOUR_S)
        hi = min(end, (bucket + 1) * HALF_HOUR_S)
        channel.add(bucket, price, hi - lo)
        bucket += 1


def _resolve_overlap(
    channel: _Channel,
    bucket: int,
    forecast_type: ForecastType,
    calibration: ForecastCalibration | None,
) -> None:
    """Slow path for a bucket covered more than once: keep the best intervals, recompute it."""
    lo, hi = bucket * HALF_HOUR_S, (bucket + 1) * HALF_HOUR_S
    inside = [iv for iv in channel.intervals if iv.start_epoch_s < hi and iv.end_epoch_s > lo]
    inside.sort(key=lambda iv: (-_KIND_RANK[iv.kind], iv.duration_min))
    taken: list[tuple[int, int]] = []
    weighted = 0.0
    covered = 0
    for iv in inside:
        a, b = max(iv.start_epoch_s, lo), min(iv.end_epoch_s, hi)
        if any(a < tb and b > ta for ta, tb in taken):
            continue  # a better interval already covers this time
        taken.append((a, b))
        weighted += iv.price_c_per_kwh(forecast_type, calibration) * (b - a)
        covered += b - a
    channel.weighted[bucket] = weighted
    channel.covered_s[bucket] = covered


def _describe(channels: tuple[_Channel, _Channel], bucket: int, label: str, zone: ZoneInfo) -> str:
    lo, hi = bucket * HALF_HOUR_S, (bucket + 1) * HALF_HOUR_S
    start_local = datetime.fromtimestamp(lo, tz=zone)
    parts = [f"{label} {start_local:%Y-%m-%d %H:%M%z}"]
    for name, channel in zip(("buy", "sell"), channels, strict=True):
        inside = [iv for iv in channel.intervals if iv.start_epoch_s < hi and iv.end_epoch_s > lo]
        if not inside:
            parts.append(f"{name}: none")
            continue
        counts: dict[str, int] = {}
        for iv in inside:
            key = f"{_KIND_LETTER[iv.kind]}{iv.duration_min}m"
            counts[key] = counts.get(key, 0) + 1
        parts.append(f"{name}: " + "+".join(f"{n}x{k}" for k, n in counts.items()))
    return "  ".join(parts)


def amber_period_prices(
    intervals: Sequence[AmberInterval],
    *,
    zone: ZoneInfo,
    now: datetime,
    forecast_type: ForecastType = ForecastType.PREDICTED,
    calibration: ForecastCalibration | None = None,
    explain: bool = False,
) -> PeriodPrices:
    """Align, average and roll Amber intervals into raw per-period prices (see module docstring).

    ``calibration`` is used only with ``ForecastType.CALIBRATED``. ``explain`` adds a
    human-readable source line per period (slower; for ``--table``).
    """
    if forecast_type is not ForecastType.CALIBRATED:
        calibration = None
    local_day(now, zone)  # rejects a naive ``now``
    chosen_starts, is_tomorrow = rolling_starts_epoch_s(now, zone)

    general, feed_in = _Channel(), _Channel()
    spiking: set[int] = set()
    newest_settled_end = -1
    newest_settled_start = -1
    has_feed_in = False
    advanced_index = _ADVANCED_INDEX.get(forecast_type)  # None for PER_KWH
    # The hot loop (~500 intervals a day): plain floats and ints, the one-bucket case inlined.
    for iv in intervals:
        kind, channel_type, duration_min, end, per_kwh, advanced, spike_status = iv
        start = end - duration_min * 60
        if channel_type == GENERAL:
            channel = general
            if kind != FORECAST and end > newest_settled_end:
                newest_settled_end = end
                newest_settled_start = start
            if spike_status != "none":
                spiking.update(range(start // HALF_HOUR_S, (end - 1) // HALF_HOUR_S + 1))
        elif channel_type == FEED_IN:
            channel = feed_in
            has_feed_in = True
        else:
            continue
        channel.intervals.append(iv)
        if kind == ACTUAL or advanced is None or advanced_index is None:
            price = per_kwh
        else:
            price = advanced[advanced_index]
            if calibration is not None:
                price = calibration.price(channel_type, start, price, per_kwh)
        bucket = start // HALF_HOUR_S
        if bucket == (end - 1) // HALF_HOUR_S:
            covered_s = channel.covered_s
            weighted = channel.weighted
            seconds = end - start
            if bucket in covered_s:
                weighted[bucket] += price * seconds
                covered_s[bucket] += seconds
            else:
                weighted[bucket] = price * seconds
                covered_s[bucket] = seconds
        else:
            _accumulate(channel, iv, price)

    for channel in (general, feed_in):
        for bucket, covered in channel.covered_s.items():
            if covered > HALF_HOUR_S:
                _resolve_overlap(channel, bucket, forecast_type, calibration)
                if channel.covered_s[bucket] > HALF_HOUR_S:  # pragma: no cover - defensive
                    raise AmberPayloadError(f"overlapping intervals in half-hour {bucket}")

    buy: list[float | None] = []
    sell: list[float | None] = []
    spikes: list[bool] = []
    starts: list[int] = []
    sources: list[str] = []
    partial: list[str] = []
    for index in range(PERIODS_PER_DAY):
        start = chosen_starts[index]
        label = "tomorrow" if is_tomorrow[index] else "today"
        bucket = start // HALF_HOUR_S
        starts.append(start)
        buy.append(general.mean(bucket))
        if has_feed_in:
            mean = feed_in.mean(bucket)
            sell.append(None if mean is None else -mean)
        else:
            sell.append(0.0)
        spikes.append(bucket in spiking)
        for name, channel in (("buy", general), ("sell", feed_in)):
            covered = channel.covered_s.get(bucket, HALF_HOUR_S)
            if covered < HALF_HOUR_S and (name == "buy" or has_feed_in):
                partial.append(
                    f"{period_name(index)} {name}: only {covered // 60} of 30 min priced"
                )
        if explain:
            sources.append(_describe((general, feed_in), bucket, label, zone))

    notes = list(partial)
    if calibration is not None and calibration.learned:
        notes.append(calibration.describe())
    if not has_feed_in:
        notes.append("no feed-in channel in the data: sell is 0 in every period")
    return PeriodPrices(
        buy_c_per_kwh=buy,
        sell_c_per_kwh=sell,
        spike_flags=spikes,
        starts_epoch_s=starts,
        newest_settled_start=(
            datetime.fromtimestamp(newest_settled_start, tz=UTC)
            if newest_settled_end >= 0
            else None
        ),
        newest_settled_end=(
            datetime.fromtimestamp(newest_settled_end, tz=UTC) if newest_settled_end >= 0 else None
        ),
        has_buy_channel=bool(general.intervals),
        sources=sources,
        notes=notes,
    )


def build_amber_rates(
    intervals: Sequence[AmberInterval],
    *,
    zone: ZoneInfo,
    now: datetime,
    settings: TariffSettings | None = None,
    rule: FreshnessRule = DEFAULT_RULE,
    calibration: ForecastCalibration | None = None,
    explain: bool = False,
) -> Built | Refused:
    """The whole Amber path: intervals -> ``Built`` (48 rounded buy/sell $/kWh) or ``Refused``."""
    settings = settings or TariffSettings()
    prices = amber_period_prices(
        intervals,
        zone=zone,
        now=now,
        forecast_type=settings.forecast_type,
        calibration=calibration,
        explain=explain,
    )
    return build_from_period_prices(prices, now=now, settings=settings, rule=rule)
