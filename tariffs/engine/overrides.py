"""Tariffs that make a Powerwall export now: the AEMO spike tariff and the force-discharge tariff.

Rule: the half-hours of the export window (the current one and the following ones that overlap
the window) get a very high sell rate, and a buy rate above it so importing to re-export can never
pay; every other half-hour keeps the household's normal rates, so the Powerwall in autonomous
("Time-Based Control") mode sees the best export price of the day right now and discharges.

Spike window sell rate: the wholesale price itself (RRP $/MWh ÷ 1000 → $/kWh), at least
SPIKE_MIN_SELL_DOLLARS_PER_KWH. Force discharge sell rate: FORCE_DISCHARGE_SELL_DOLLARS_PER_KWH.
Buy in the window = sell + WINDOW_BUY_MARGIN_DOLLARS_PER_KWH. All $/kWh, rounded like every rate.
"""

from __future__ import annotations

from decimal import Decimal

from tariffs.engine.adjustments import round_dollars_per_kwh
from tariffs.engine.model import PERIODS_PER_DAY, HalfHourRates

SPIKE_MIN_SELL_DOLLARS_PER_KWH = Decimal("1.00")
FORCE_DISCHARGE_SELL_DOLLARS_PER_KWH = Decimal("2.00")
WINDOW_BUY_MARGIN_DOLLARS_PER_KWH = Decimal("0.10")
SPIKE_WINDOW_PERIODS = 2  # the current half-hour and the next: refreshed while the spike lasts


def spike_sell_dollars_per_kwh(rrp_dollars_per_mwh: Decimal) -> Decimal:
    return round_dollars_per_kwh(max(rrp_dollars_per_mwh / 1000, SPIKE_MIN_SELL_DOLLARS_PER_KWH))


def periods_for_minutes(minutes: int, *, minute_of_half_hour: int) -> int:
    """How many half-hours a window of ``minutes`` starting now touches."""
    if minutes <= 0:
        raise ValueError("the export window must last at least a minute")
    return min(PERIODS_PER_DAY, -(-(minute_of_half_hour + minutes) // 30))


def export_window_rates(
    base: HalfHourRates,
    *,
    start_index: int,
    periods: int,
    sell_dollars_per_kwh: Decimal,
) -> HalfHourRates:
    """``base`` with ``periods`` half-hours from ``start_index`` (wrapping midnight) exporting."""
    if not 0 <= start_index < PERIODS_PER_DAY:
        raise ValueError(f"start_index {start_index} is outside 0..47")
    if not 1 <= periods <= PERIODS_PER_DAY:
        raise ValueError(f"periods must be 1..48, got {periods}")
    sell = round_dollars_per_kwh(sell_dollars_per_kwh)
    buy = round_dollars_per_kwh(sell + WINDOW_BUY_MARGIN_DOLLARS_PER_KWH)
    buys = list(base.buy_dollars_per_kwh)
    sells = list(base.sell_dollars_per_kwh)
    for offset in range(periods):
        index = (start_index + offset) % PERIODS_PER_DAY
        buys[index], sells[index] = buy, sell
    return HalfHourRates(tuple(buys), tuple(sells))
