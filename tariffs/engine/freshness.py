"""The stale/missing-data gate: a tariff is either ``Built`` or ``Refused`` (must not be pushed).

The incident this guards against: missing prices became zeros and the battery charged from the
grid to 100 % overnight. So no price is ever invented as 0, and the engine refuses rather than
guess. The rule (``FreshnessRule``, defaults below), checked in this order:

1. **Not stale.** The newest *settled* price (Amber ``ActualInterval``/``CurrentInterval`` on the
   general channel; for AEMO the newest dispatch price) must have ended at most ``max_age``
   (30 min) before ``now``: six missed 5-minute syncs. Older forecasts are not trusted.
2. **Not from the future.** That newest settled interval must have started no later than
   ``now + max_clock_skew`` (1 min); otherwise the clock or the data is wrong (a replay).
3. **Buy prices exist.** The general (buy) channel must be present at all.
4. **Few gaps.** A half-hour with no interval in it is missing. Each missing half-hour may be filled
   by linear interpolation between the nearest priced half-hours before and after it in real time
   (or copied from the single nearest one at the edge of the data), but only if no run of
   consecutive missing half-hours is longer than ``max_fill_run`` (2 = one hour) and no channel
   has more than ``max_fill_total`` (4) filled. Otherwise: refused. Every fill is noted.
5. **Not all zero.** 48 buy prices of exactly 0 c/kWh are implausible: refused.

A half-hour only partly covered by intervals takes the duration-weighted mean of what is there
(it is real data), and the build notes it. When ``Refused``, the caller keeps the last good
tariff on the battery and records the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tariffs.engine.adjustments import Adjustment, apply_adjustments
from tariffs.engine.model import PERIODS_PER_DAY, HalfHourRates, period_name
from tariffs.engine.settings import TariffSettings


@dataclass(frozen=True)
class FreshnessRule:
    max_age: timedelta = timedelta(minutes=30)
    max_clock_skew: timedelta = timedelta(minutes=1)
    max_fill_run: int = 2
    max_fill_total: int = 4


DEFAULT_RULE = FreshnessRule()


@dataclass(frozen=True)
class PeriodPrices:
    """Raw prices per Tesla period (index = local half-hour), before the gate and adjustments.

    ``None`` = no data for that half-hour. Sell is positive when the household earns (c/kWh).
    ``starts_epoch_s`` is the real start of the half-hour chosen for each period (today's or, for
    periods already past, tomorrow's), so gaps can be interpolated in real time.
    """

    buy_c_per_kwh: Sequence[float | None]
    sell_c_per_kwh: Sequence[float | None]
    spike_flags: Sequence[bool]
    starts_epoch_s: Sequence[int]
    newest_settled_start: datetime | None
    newest_settled_end: datetime | None
    has_buy_channel: bool
    sources: Sequence[str] = ()
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class Built:
    """A tariff that may be pushed."""

    rates: HalfHourRates
    adjustments: tuple[Adjustment, ...]
    notes: tuple[str, ...]
    sources: tuple[str, ...]  # one human-readable line per period (for --table), may be empty


@dataclass(frozen=True)
class Refused:
    """The data failed the freshness rule: this tariff must not be pushed."""

    reason: str


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_freshness(prices: PeriodPrices, *, now: datetime, rule: FreshnessRule) -> Refused | None:
    """Rules 1-3. ``None`` means the data is fresh enough."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if not prices.has_buy_channel:
        return Refused("no general-channel (buy) prices in the data")
    if prices.newest_settled_end is None or prices.newest_settled_start is None:
        return Refused("no actual or current price in the data: cannot tell how fresh it is")
    age = now - prices.newest_settled_end
    if age > rule.max_age:
        return Refused(
            f"stale prices: the newest actual/current price ended "
            f"{_utc(prices.newest_settled_end)}, {age.total_seconds() / 60:.0f} min before now "
            f"({_utc(now)}); limit {rule.max_age.total_seconds() / 60:.0f} min"
        )
    if prices.newest_settled_start > now + rule.max_clock_skew:
        return Refused(
            f"prices from the future: an actual/current price starts "
            f"{_utc(prices.newest_settled_start)}, after now ({_utc(now)}); clock or replay error"
        )
    return None


def fill_gaps(
    values: Sequence[float | None],
    starts_epoch_s: Sequence[int],
    *,
    channel: str,
    rule: FreshnessRule,
) -> tuple[list[float], list[str]] | Refused:
    """Rule 4 for one channel: interpolate short gaps in real-time order, or refuse."""
    missing = [i for i, v in enumerate(values) if v is None]
    if not missing:
        return list(values), []  # type: ignore[arg-type]  # no None left
    if len(missing) > rule.max_fill_total:
        names = ", ".join(period_name(i) for i in missing[:6])
        more = "…" if len(missing) > 6 else ""
        return Refused(
            f"{len(missing)} half-hours without {channel} prices ({names}{more}); "
            f"at most {rule.max_fill_total} may be filled"
        )
    order = sorted(range(PERIODS_PER_DAY), key=lambda i: starts_epoch_s[i])
    filled: list[float | None] = list(values)
    notes: list[str] = []
    position = 0
    while position < len(order):
        if values[order[position]] is not None:
            position += 1
            continue
        run_end = position
        while run_end < len(order) and values[order[run_end]] is None:
            run_end += 1
        run = order[position:run_end]
        if len(run) > rule.max_fill_run:
            return Refused(
                f"{len(run)} consecutive half-hours without {channel} prices from "
                f"{period_name(run[0])}; at most {rule.max_fill_run} may be filled"
            )
        before = values[order[position - 1]] if position > 0 else None
        after = values[order[run_end]] if run_end < len(order) else None
        for step, index in enumerate(run, start=1):
            value: float
            if before is not None and after is not None:
                value = before + (after - before) * step / (len(run) + 1)
                how = "interpolated between neighbours"
            elif before is not None or after is not None:
                value = before if before is not None else after  # type: ignore[assignment]
                how = "copied from the nearest priced half-hour"
            else:  # pragma: no cover - excluded by the total check (48 > max_fill_total)
                return Refused(f"no {channel} prices at all")
            filled[index] = value
            notes.append(f"{period_name(index)} {channel}: no data, {how} ({value:.5f} c/kWh)")
        position = run_end
    return filled, notes  # type: ignore[return-value]  # every None was replaced


def build_from_period_prices(
    prices: PeriodPrices,
    *,
    now: datetime,
    settings: TariffSettings,
    rule: FreshnessRule = DEFAULT_RULE,
) -> Built | Refused:
    """Gate, fill, adjust and round: the shared last step of every price source."""
    refused = check_freshness(prices, now=now, rule=rule)
    if refused is not None:
        return refused
    buy = fill_gaps(prices.buy_c_per_kwh, prices.starts_epoch_s, channel="buy", rule=rule)
    if isinstance(buy, Refused):
        return buy
    sell = fill_gaps(prices.sell_c_per_kwh, prices.starts_epoch_s, channel="sell", rule=rule)
    if isinstance(sell, Refused):
        return sell
    buy_c, buy_notes = buy
    sell_c, sell_notes = sell
    if all(value == 0 for value in buy_c):
        return Refused("all 48 buy prices are exactly 0 c/kWh: implausible, not pushed")
    rates, adjustments = apply_adjustments(
        buy_c_per_kwh=buy_c,
        sell_c_per_kwh=sell_c,
        spike_flags=prices.spike_flags,
        settings=settings,
    )
    return Built(
        rates=rates,
        adjustments=adjustments,
        notes=(*prices.notes, *buy_notes, *sell_notes),
        sources=tuple(prices.sources),
    )
