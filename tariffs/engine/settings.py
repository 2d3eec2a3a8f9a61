"""A site's tariff options, with the SPEC's defaults, parsed strictly from a JSON object.

Keys (all optional; SPEC §4.4, §4.6, §4.7):

* ``forecast_type``: ``"predicted"`` (default), ``"low"``, ``"high"``, ``"per_kwh"`` or
  ``"calibrated"`` (``calibration``) — which Amber price a forecast (or current) interval
  contributes; actual intervals always use ``perKwh``.
* ``spike_protection``: bool, default false (opt-in).
* ``export_boost``: bool, default false (opt-in); ``export_boost_offset_c_per_kwh`` (default 0),
  ``export_boost_min_c_per_kwh`` (default 0), ``export_boost_threshold_c_per_kwh`` (default 0 =
  always apply), ``export_boost_start`` / ``export_boost_end`` (local ``"HH:MM"``, default 17:00 and
  21:00; end may be ``"24:00"``; a window whose end is not after its start wraps past midnight).

An unknown key or a value of the wrong type is a ``TariffSettingsError`` naming the key; nothing is
silently ignored or coerced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TariffSettingsError(ValueError):
    """A tariff settings object has an unknown key or an invalid value."""


class ForecastType(StrEnum):
    PREDICTED = "predicted"
    LOW = "low"
    HIGH = "high"
    PER_KWH = "per_kwh"
    CALIBRATED = "calibrated"  # predicted, corrected by the site's settled prices (calibration)


@dataclass(frozen=True)
class LocalWindow:
    """A wall-clock window in minutes after local midnight, ``start`` inclusive, ``end`` exclusive.

    ``end <= start`` wraps past midnight; ``start == end`` would be empty and is rejected.
    """

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not (0 <= self.start_minute < 1440 and 0 < self.end_minute <= 1440):
            raise TariffSettingsError(f"window out of range: {self.start_minute}-{self.end_minute}")
        if self.start_minute == self.end_minute:
            raise TariffSettingsError("window is empty (start == end)")

    def contains(self, minute_of_day: int) -> bool:
        if self.start_minute < self.end_minute:
            return self.start_minute <= minute_of_day < self.end_minute
        return minute_of_day >= self.start_minute or minute_of_day < self.end_minute

    @classmethod
    def parse(cls, start: str, end: str) -> LocalWindow:
        return cls(parse_hh_mm(start, allow_24=False), parse_hh_mm(end, allow_24=True))


def parse_hh_mm(text: object, *, allow_24: bool) -> int:
    """``"HH:MM"`` -> minutes after midnight; minutes must be 00 or 30 (the tariff's resolution)."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise TariffSettingsError(f"expected 'HH:MM', got {text!r}")
    hh, mm = text[:2], text[3:]
    if not (hh.isdigit() and mm.isdigit()):
        raise TariffSettingsError(f"expected 'HH:MM', got {text!r}")
    hours, minutes = int(hh), int(mm)
    if minutes not in (0, 30) or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise TariffSettingsError(f"time must be on a half-hour between 00:00 and 24:00: {text!r}")
    return hours * 60 + minutes


@dataclass(frozen=True)
class ExportBoost:
    """SPEC §4.7, all amounts in c/kWh."""

    offset_c_per_kwh: float = 0.0
    min_c_per_kwh: float = 0.0
    threshold_c_per_kwh: float = 0.0  # 0 = always apply
    window: LocalWindow = field(default_factory=lambda: LocalWindow(17 * 60, 21 * 60))


@dataclass(frozen=True)
class TariffSettings:
    forecast_type: ForecastType = ForecastType.PREDICTED
    spike_protection: bool = False
    export_boost: ExportBoost | None = None  # None = off

    @classmethod
    def from_json(cls, data: object) -> TariffSettings:
        if not isinstance(data, dict):
            raise TariffSettingsError("settings must be a JSON object")
        unknown = sorted(set(data) - _KNOWN_KEYS)
        if unknown:
            raise TariffSettingsError(f"unknown settings key(s): {', '.join(unknown)}")
        forecast_raw = data.get("forecast_type", ForecastType.PREDICTED.value)
        try:
            forecast = ForecastType(forecast_raw)
        except ValueError:
            choices = ", ".join(f.value for f in ForecastType)
            raise TariffSettingsError(
                f"forecast_type must be one of {choices}, got {forecast_raw!r}"
            ) from None
        spike = _bool(data, "spike_protection")
        boost: ExportBoost | None = None
        if _bool(data, "export_boost"):
            boost = ExportBoost(
                offset_c_per_kwh=_number(data, "export_boost_offset_c_per_kwh"),
                min_c_per_kwh=_number(data, "export_boost_min_c_per_kwh"),
                threshold_c_per_kwh=_number(data, "export_boost_threshold_c_per_kwh"),
                window=LocalWindow.parse(
                    data.get("export_boost_start", "17:00"), data.get("export_boost_end", "21:00")
                ),
            )
        return cls(forecast_type=forecast, spike_protection=spike, export_boost=boost)


_KNOWN_KEYS = frozenset(
    {
        "forecast_type",
        "spike_protection",
        "export_boost",
        "export_boost_offset_c_per_kwh",
        "export_boost_min_c_per_kwh",
        "export_boost_threshold_c_per_kwh",
        "export_boost_start",
        "export_boost_end",
    }
)


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise TariffSettingsError(f"{key} must be true or false, got {value!r}")
    return value


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TariffSettingsError(f"{key} must be a finite number (c/kWh), got {value!r}")
    return float(value)
