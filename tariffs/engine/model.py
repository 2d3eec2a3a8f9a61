"""Shared value types of the tariff engine.

A Tesla tariff names each half-hour of the local day by its START (``PERIOD_17_30`` covers
17:30-18:00 site-local wall clock). ``HalfHourRates`` holds one price per such half-hour, index
``i`` being ``PERIOD_{i // 2:02d}_{(i % 2) * 30:02d}``. Prices are $/kWh as Decimal, already
rounded and non-negative by the time they reach the Tesla renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PERIODS_PER_DAY = 48


def period_name(index: int) -> str:
    """Tesla's name of the half-hour starting at ``index`` * 30 minutes after local midnight."""
    if not 0 <= index < PERIODS_PER_DAY:
        raise ValueError(f"half-hour index out of range: {index}")
    return f"PERIOD_{index // 2:02d}_{(index % 2) * 30:02d}"


@dataclass(frozen=True)
class HalfHourRates:
    """48 buy and 48 sell prices in $/kWh, one per local half-hour starting at 00:00.

    ``sell`` is what the household is paid to export (positive = earns), the Tesla convention.
    """

    buy_dollars_per_kwh: tuple[Decimal, ...]
    sell_dollars_per_kwh: tuple[Decimal, ...]

    def __post_init__(self) -> None:
        sides = (("buy", self.buy_dollars_per_kwh), ("sell", self.sell_dollars_per_kwh))
        for label, values in sides:
            if len(values) != PERIODS_PER_DAY:
                raise ValueError(f"{label} needs {PERIODS_PER_DAY} half-hours, got {len(values)}")
            for value in values:
                if not isinstance(value, Decimal) or not value.is_finite():
                    raise ValueError(f"{label} price is not a finite Decimal: {value!r}")
