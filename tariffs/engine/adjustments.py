"""Adjustments between raw half-hour prices (c/kWh) and the rates Tesla receives ($/kWh).

Applied in this fixed order, every change recorded as an ``Adjustment``:

1. **Export boost** (SPEC §4.7, opt-in). For a half-hour whose wall-clock START lies in the local
   window (default 17:00-21:00, end exclusive): if the threshold is 0, or the export price is at or
   above it, ``sell = max(sell + offset, minimum)``; otherwise sell is unchanged. All in c/kWh.
2. **Rounding** (SPEC §4.8): c/kWh -> $/kWh, 4 decimal places, half away from zero, trailing zeros
   dropped (0.2014191 -> 0.2014, 0.199000 -> 0.199). Rounding an already-rounded value returns it
   unchanged (idempotent). The real Tesla tariffs we hold carry at most 4 decimals
   (fixtures/tesla/site_info_tariff_content_v2_flow_power_au.json: 0.24, 0.31, 0.42, 0.45).
3. **Negative rates -> 0** (SPEC §4.9: "Tesla rejects negative rates"; external_apis.md §2.5: sell
   prices are positive export credits). Paid exports are handled by curtailment, not the tariff.
4. **Spike protection** (SPEC §4.6, opt-in). In half-hours Amber flags ``potential`` or ``spike``:
   ``buy = max(all sell rates of the final tariff) + $1.00/kWh``, so grid charging can never pay.
   Computed on the rounded, clamped sells, so it is exactly $1.00 above the highest sell Tesla sees.

Sell above buy is left alone: Tesla accepts it today (SPEC §4.9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from tariffs.engine.model import PERIODS_PER_DAY, HalfHourRates, period_name
from tariffs.engine.settings import TariffSettings

_FOUR_PLACES = Decimal("0.0001")
_ZERO = Decimal(0)
_ONE_DOLLAR = Decimal(1)
_INTEGER = Decimal(1)


class AdjustmentKind(StrEnum):
    EXPORT_BOOST = "export_boost"
    NEGATIVE_CLAMP = "negative_clamp"
    SPIKE_PROTECTION = "spike_protection"


@dataclass(frozen=True)
class Adjustment:
    """One rate the engine changed on purpose, with its value before and after ($/kWh, rounded)."""

    period: str
    side: str  # "buy" or "sell"
    kind: AdjustmentKind
    before_dollars_per_kwh: Decimal
    after_dollars_per_kwh: Decimal

    def describe(self) -> str:
        return (
            f"{self.period} {self.side}: {self.kind.value} "
            f"{self.before_dollars_per_kwh} -> {self.after_dollars_per_kwh} $/kWh"
        )


def round_dollars_per_kwh(value: Decimal) -> Decimal:
    """4 decimal places, half away from zero, trailing zeros dropped, never ``-0``. Idempotent."""
    rounded = value.quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP)
    if rounded.is_zero():
        return _ZERO
    normal = rounded.normalize()
    # normalize() writes whole numbers with a positive exponent (Decimal("1E+1")); keep them plain.
    return normal.quantize(_INTEGER) if normal.as_tuple().exponent > 0 else normal  # type: ignore[operator]


def c_per_kwh_to_dollars(price_c_per_kwh: float) -> Decimal:
    """c/kWh (float) -> rounded $/kWh. Goes through the float's shortest decimal text, so
    67.06283 c/kWh becomes exactly 0.6706283 before rounding (no binary-float tie surprises)."""
    return round_dollars_per_kwh(Decimal(repr(price_c_per_kwh)).scaleb(-2))


def apply_adjustments(
    *,
    buy_c_per_kwh: Sequence[float],
    sell_c_per_kwh: Sequence[float],
    spike_flags: Sequence[bool],
    settings: TariffSettings,
) -> tuple[HalfHourRates, tuple[Adjustment, ...]]:
    """Raw per-period prices (index = local half-hour, c/kWh, sell positive = household earns)
    -> the rates Tesla receives and the list of deliberate changes."""
    if not (len(buy_c_per_kwh) == len(sell_c_per_kwh) == len(spike_flags) == PERIODS_PER_DAY):
        raise ValueError("apply_adjustments needs 48 buy, sell and spike values")
    adjustments: list[Adjustment] = []

    boost = settings.export_boost
    sells: list[Decimal] = []
    for index, raw_sell_c in enumerate(sell_c_per_kwh):
        sell_c = raw_sell_c
        if (
            boost is not None
            and boost.window.contains(index * 30)
            and (boost.threshold_c_per_kwh == 0 or sell_c >= boost.threshold_c_per_kwh)
        ):
            boosted_c = max(sell_c + boost.offset_c_per_kwh, boost.min_c_per_kwh)
            if boosted_c != sell_c:
                adjustments.append(
                    Adjustment(
                        period_name(index),
                        "sell",
                        AdjustmentKind.EXPORT_BOOST,
                        c_per_kwh_to_dollars(sell_c),
                        c_per_kwh_to_dollars(boosted_c),
                    )
                )
                sell_c = boosted_c
        sell = c_per_kwh_to_dollars(sell_c)
        if sell < _ZERO:
            adjustments.append(
                Adjustment(period_name(index), "sell", AdjustmentKind.NEGATIVE_CLAMP, sell, _ZERO)
            )
            sell = _ZERO
        sells.append(sell)

    spike_buy = max(sells) + _ONE_DOLLAR
    buys: list[Decimal] = []
    for index, raw_buy_c in enumerate(buy_c_per_kwh):
        buy = c_per_kwh_to_dollars(raw_buy_c)
        if buy < _ZERO:
            adjustments.append(
                Adjustment(period_name(index), "buy", AdjustmentKind.NEGATIVE_CLAMP, buy, _ZERO)
            )
            buy = _ZERO
        if settings.spike_protection and spike_flags[index]:
            adjustments.append(
                Adjustment(
                    period_name(index), "buy", AdjustmentKind.SPIKE_PROTECTION, buy, spike_buy
                )
            )
            buy = spike_buy
        buys.append(buy)

    return HalfHourRates(tuple(buys), tuple(sells)), tuple(adjustments)
