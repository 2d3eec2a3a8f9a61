"""Export boost, negative clamp, spike protection and rounding (SPEC §4.6-4.9), numbers by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tariffs.engine.adjustments import (
    AdjustmentKind,
    apply_adjustments,
    c_per_kwh_to_dollars,
    round_dollars_per_kwh,
)
from tariffs.engine.settings import (
    ExportBoost,
    ForecastType,
    LocalWindow,
    TariffSettings,
    TariffSettingsError,
)

FLAT_BUY = [30.0] * 48
FLAT_SELL = [10.0] * 48
NO_SPIKES = [False] * 48
P17_00, P17_30, P20_30, P21_00 = 34, 35, 41, 42


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.2014191", "0.2014"),
        ("0.199000", "0.199"),
        ("0.20145", "0.2015"),  # half away from zero
        ("0.20144999", "0.2014"),
        ("1.00000", "1"),
        ("10", "10"),  # not 1E+1
        ("-0.00004", "0"),  # never -0
        ("0", "0"),
        ("-0.12345", "-0.1235"),
    ],
)
def test_rounding(value: str, expected: str) -> None:
    rounded = round_dollars_per_kwh(Decimal(value))
    assert str(rounded) == expected
    assert round_dollars_per_kwh(rounded) == rounded  # idempotent
    assert str(round_dollars_per_kwh(rounded)) == expected


def test_cents_to_dollars_uses_the_decimal_text_of_the_float() -> None:
    # 20.145 c as a binary float is 20.14499999...; its shortest text "20.145" -> $0.20145 -> 0.2015
    assert c_per_kwh_to_dollars(20.145) == Decimal("0.2015")
    assert c_per_kwh_to_dollars(67.06283) == Decimal("0.6706")


def boost_settings(**kwargs: float) -> TariffSettings:
    return TariffSettings(export_boost=ExportBoost(**kwargs))  # type: ignore[arg-type]


def test_export_boost_example_from_the_readme() -> None:
    # offset 5c, min 20c, threshold 10c, window 17:00-21:00
    sells = list(FLAT_SELL)
    sells[P17_00] = 18.0  # 18 >= 10 -> 18 + 5 = 23c -> $0.23
    sells[P17_30] = 12.0  # 12 >= 10 -> 17c < 20 floor -> $0.2
    sells[P20_30] = 5.0  # 5 < 10 -> unchanged $0.05
    sells[P21_00] = 18.0  # 21:00 is outside (end exclusive) -> unchanged $0.18
    rates, adjustments = apply_adjustments(
        buy_c_per_kwh=FLAT_BUY,
        sell_c_per_kwh=sells,
        spike_flags=NO_SPIKES,
        settings=boost_settings(offset_c_per_kwh=5, min_c_per_kwh=20, threshold_c_per_kwh=10),
    )
    assert rates.sell_dollars_per_kwh[P17_00] == Decimal("0.23")
    assert rates.sell_dollars_per_kwh[P17_30] == Decimal("0.2")
    assert rates.sell_dollars_per_kwh[P20_30] == Decimal("0.05")
    assert rates.sell_dollars_per_kwh[P21_00] == Decimal("0.18")
    # 10c sells inside the window (36..40) are also >= 10: 15c -> floor 20c
    assert rates.sell_dollars_per_kwh[36] == Decimal("0.2")
    assert rates.sell_dollars_per_kwh[33] == Decimal("0.1")  # 16:30, outside
    boosted = [a.period for a in adjustments if a.kind is AdjustmentKind.EXPORT_BOOST]
    assert boosted == [
        f"PERIOD_{h:02d}_{m:02d}" for h in (17, 18, 19, 20) for m in (0, 30) if (h, m) != (20, 30)
    ]


def test_export_boost_threshold_zero_always_applies_even_to_negative_prices() -> None:
    sells = list(FLAT_SELL)
    sells[P17_00] = -3.0  # -3 + 5 = 2c -> $0.02
    rates, _ = apply_adjustments(
        buy_c_per_kwh=FLAT_BUY,
        sell_c_per_kwh=sells,
        spike_flags=NO_SPIKES,
        settings=boost_settings(offset_c_per_kwh=5),
    )
    assert rates.sell_dollars_per_kwh[P17_00] == Decimal("0.02")


def test_export_boost_window_wrapping_midnight() -> None:
    settings = TariffSettings(
        export_boost=ExportBoost(offset_c_per_kwh=1, window=LocalWindow(23 * 60, 60))
    )
    rates, _ = apply_adjustments(
        buy_c_per_kwh=FLAT_BUY, sell_c_per_kwh=FLAT_SELL, spike_flags=NO_SPIKES, settings=settings
    )
    boosted = [i for i, v in enumerate(rates.sell_dollars_per_kwh) if v == Decimal("0.11")]
    assert boosted == [0, 1, 46, 47]


def test_negative_buy_and_sell_are_clamped_to_zero_and_recorded() -> None:
    buys, sells = list(FLAT_BUY), list(FLAT_SELL)
    buys[3] = -4.2  # -> -0.042 -> 0
    sells[5] = -0.5  # household pays 0.5c to export -> 0
    rates, adjustments = apply_adjustments(
        buy_c_per_kwh=buys, sell_c_per_kwh=sells, spike_flags=NO_SPIKES, settings=TariffSettings()
    )
    assert rates.buy_dollars_per_kwh[3] == 0
    assert rates.sell_dollars_per_kwh[5] == 0
    assert [a.describe() for a in adjustments] == [
        "PERIOD_02_30 sell: negative_clamp -0.005 -> 0 $/kWh",
        "PERIOD_01_30 buy: negative_clamp -0.042 -> 0 $/kWh",
    ]


def test_spike_protection_sets_buy_one_dollar_above_the_highest_sell() -> None:
    sells = list(FLAT_SELL)
    sells[40] = 2129.0  # the README example: $21.29 export
    spikes = list(NO_SPIKES)
    spikes[10] = spikes[11] = True
    rates, adjustments = apply_adjustments(
        buy_c_per_kwh=FLAT_BUY,
        sell_c_per_kwh=sells,
        spike_flags=spikes,
        settings=TariffSettings(spike_protection=True),
    )
    # 21.29 + 1.00 = 22.29
    assert rates.buy_dollars_per_kwh[10] == Decimal("22.29")
    assert rates.buy_dollars_per_kwh[11] == Decimal("22.29")
    assert rates.buy_dollars_per_kwh[12] == Decimal("0.3")
    assert [a.kind for a in adjustments] == [AdjustmentKind.SPIKE_PROTECTION] * 2


def test_spike_protection_off_by_default() -> None:
    rates, adjustments = apply_adjustments(
        buy_c_per_kwh=FLAT_BUY,
        sell_c_per_kwh=FLAT_SELL,
        spike_flags=[True] * 48,
        settings=TariffSettings(),
    )
    assert rates.buy_dollars_per_kwh == (Decimal("0.3"),) * 48
    assert adjustments == ()


def test_spike_protection_uses_the_boosted_clamped_sells() -> None:
    sells = [-5.0] * 48  # all negative -> clamped to 0, except the boosted evening
    settings = TariffSettings(
        spike_protection=True,
        export_boost=ExportBoost(min_c_per_kwh=25, threshold_c_per_kwh=0),
    )
    rates, _ = apply_adjustments(
        buy_c_per_kwh=FLAT_BUY,
        sell_c_per_kwh=sells,
        spike_flags=[True] + [False] * 47,
        settings=settings,
    )
    # boosted evening sell: max(-5 + 0, 25) = 25c -> 0.25; spike buy = 0.25 + 1 = 1.25
    assert rates.buy_dollars_per_kwh[0] == Decimal("1.25")


def test_needs_48_values() -> None:
    with pytest.raises(ValueError, match="48"):
        apply_adjustments(
            buy_c_per_kwh=[1.0],
            sell_c_per_kwh=[1.0],
            spike_flags=[False],
            settings=TariffSettings(),
        )


# --- settings parsing -------------------------------------------------------------------------


def test_settings_defaults_follow_the_spec() -> None:
    settings = TariffSettings.from_json({})
    assert settings.forecast_type is ForecastType.PREDICTED
    assert settings.spike_protection is False
    assert settings.export_boost is None
    boost = TariffSettings.from_json({"export_boost": True}).export_boost
    assert boost == ExportBoost(0.0, 0.0, 0.0, LocalWindow(17 * 60, 21 * 60))


def test_settings_full() -> None:
    settings = TariffSettings.from_json(
        {
            "forecast_type": "high",
            "spike_protection": True,
            "export_boost": True,
            "export_boost_offset_c_per_kwh": 5,
            "export_boost_min_c_per_kwh": 20.5,
            "export_boost_threshold_c_per_kwh": 10,
            "export_boost_start": "16:30",
            "export_boost_end": "24:00",
        }
    )
    assert settings.forecast_type is ForecastType.HIGH
    assert settings.export_boost == ExportBoost(5.0, 20.5, 10.0, LocalWindow(990, 1440))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"forecast": "low"}, "unknown settings key"),
        ({"forecast_type": "median"}, "forecast_type must be one of"),
        ({"spike_protection": "yes"}, "true or false"),
        ({"export_boost": True, "export_boost_offset_c_per_kwh": "5"}, "finite number"),
        ({"export_boost": True, "export_boost_min_c_per_kwh": float("inf")}, "finite number"),
        ({"export_boost": True, "export_boost_start": "5pm"}, "HH:MM"),
        ({"export_boost": True, "export_boost_start": "17:15"}, "half-hour"),
        ({"export_boost": True, "export_boost_start": "24:00"}, "half-hour"),
        (
            {"export_boost": True, "export_boost_start": "17:00", "export_boost_end": "17:00"},
            "empty",
        ),
    ],
)
def test_settings_errors(data: object, message: str) -> None:
    with pytest.raises(TariffSettingsError, match=message):
        TariffSettings.from_json(data)
