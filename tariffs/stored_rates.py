"""The 48 half-hours a pushed tariff was built from, as stored on the push (``half_hour_rates``):
the next sync compares against them without parsing the tariff again."""

from __future__ import annotations

from decimal import Decimal

from tariffs.engine.model import HalfHourRates


def rates_to_json(rates: HalfHourRates) -> list[list[str]]:
    return [
        [str(v) for v in rates.buy_dollars_per_kwh],
        [str(v) for v in rates.sell_dollars_per_kwh],
    ]


def rates_from_json(raw: list[list[str]]) -> HalfHourRates:
    buy, sell = raw
    return HalfHourRates(tuple(map(Decimal, buy)), tuple(map(Decimal, sell)))
