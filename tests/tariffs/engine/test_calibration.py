"""The calibrated forecast: the blend weight it learns, the samples it learns from, and what it does
to the tariff (real fixture day, 16:25 AEST)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from tariffs.engine.amber import build_amber_rates, parse_amber_intervals
from tariffs.engine.calibration import (
    FULL_S,
    HORIZON_S,
    LEAD_S,
    MIN_SAMPLES,
    CapturedForecast,
    ForecastCalibration,
    ForecastSample,
    SettledPrice,
    blend_weight,
    captured_for_calibration,
    forecast_calibration,
    forecast_samples,
)
from tariffs.engine.freshness import Built
from tariffs.engine.settings import ForecastType, TariffSettings
from tests.tariffs.engine.test_amber import BRISBANE, at, index_of, load_fixture


def world(settles_at: float, count: int = 24, seed: int = 3) -> list[ForecastSample]:
    """Samples where the settled price sits ``settles_at`` of the way from predicted to perKwh,
    plus noise; perKwh runs 10-40 % above predicted, as in the fixture."""
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        predicted = rng.uniform(20, 60)
        per_kwh = predicted * rng.uniform(1.1, 1.4)
        settled = predicted + settles_at * (per_kwh - predicted) + rng.gauss(0, 1.0)
        samples.append(ForecastSample("general", settled, per_kwh, predicted))
    return samples


@pytest.mark.parametrize("settles_at", [0.0, 0.3, 0.7, 1.0])
def test_the_weight_learns_which_forecast_settles_closer(settles_at: float) -> None:
    assert blend_weight(world(settles_at)) == pytest.approx(settles_at, abs=0.08)


def test_the_weight_stays_between_the_two_forecasts() -> None:
    assert blend_weight(world(1.6)) == 1.0  # settled beyond perKwh: perKwh, not further
    assert blend_weight(world(-0.5)) == 0.0  # settled beyond predicted: predicted


def test_one_spike_interval_does_not_swing_the_weight() -> None:
    calm = world(0.0, count=23)
    spike = ForecastSample("general", 1500.0, 100.0, 60.0)  # settled far beyond both
    assert blend_weight([*calm, spike]) == pytest.approx(0.0, abs=0.08)


def test_no_evidence_means_plain_predicted() -> None:
    assert blend_weight(world(1.0, count=MIN_SAMPLES - 1)) == 0.0
    agreeing = [ForecastSample("general", 30.0, 30.1, 30.0) for _ in range(24)]
    assert blend_weight(agreeing) == 0.0  # the two forecasts said the same thing
    assert blend_weight([]) == 0.0


def test_weights_are_per_channel_and_stop_at_the_horizon() -> None:
    now = datetime(2025, 6, 28, 6, 25, tzinfo=UTC)
    feed_in = [s._replace(channel="feedIn") for s in world(0.0)]
    calibration = forecast_calibration(world(1.0) + feed_in, now=now)
    assert calibration.general_weight == pytest.approx(1.0, abs=0.08)
    assert calibration.feed_in_weight == 0.0
    assert calibration.samples == 48
    soon = int(now.timestamp()) + FULL_S
    assert calibration.price("general", soon, 50.0, 60.0) == pytest.approx(60.0, abs=1)
    assert calibration.price("feedIn", soon, -20.0, -27.0) == -20.0
    halfway = int(now.timestamp()) + (FULL_S + HORIZON_S) // 2
    assert calibration.price("general", halfway, 50.0, 60.0) == pytest.approx(
        50 + 5 * calibration.general_weight
    )
    later = int(now.timestamp()) + HORIZON_S
    assert calibration.price("general", later, 50.0, 60.0) == 50.0


def test_settled_intervals_pair_with_the_finest_covering_forecast() -> None:
    half_hour = 1_751_090_400  # 2025-06-28 06:00 UTC
    settled = [
        SettledPrice("general", half_hour, half_hour + 300, 31.0),
        SettledPrice("general", half_hour + 300, half_hour + 600, 32.0),
        SettledPrice("feedIn", half_hour, half_hour + 300, -9.0),
        SettledPrice("general", half_hour + 1800, half_hour + 2100, 40.0),  # nothing captured
    ]
    captured = [
        CapturedForecast("general", half_hour, half_hour + 1800, 35.0, 30.0),
        CapturedForecast("general", half_hour, half_hour + 300, 33.0, 29.0),
        CapturedForecast("feedIn", half_hour, half_hour + 1800, -10.0, -7.0),
    ]
    assert forecast_samples(settled, captured) == [
        ForecastSample("general", 31.0, 33.0, 29.0),  # the 5-minute forecast, not the 30
        ForecastSample("general", 32.0, 35.0, 30.0),
        ForecastSample("feedIn", -9.0, -10.0, -7.0),
    ]


def test_a_forecast_is_captured_only_far_enough_ahead() -> None:
    assert captured_for_calibration(10_000 + LEAD_S, 10_000)
    assert not captured_for_calibration(10_000 + LEAD_S - 1, 10_000)


# --- in the engine, on the real day -------------------------------------------------------------


def build(forecast_type: ForecastType, calibration: ForecastCalibration | None) -> Built:
    result = build_amber_rates(
        parse_amber_intervals(load_fixture()),
        zone=BRISBANE,
        now=at(16, 25),
        settings=TariffSettings(forecast_type=forecast_type),
        calibration=calibration,
    )
    assert isinstance(result, Built)
    return result


def calibration(weight: float) -> ForecastCalibration:
    return ForecastCalibration(weight, weight, int(at(16, 25).timestamp()), 48)


def test_full_weight_is_per_kwh_for_the_next_hour_fading_to_predicted_by_three() -> None:
    calibrated = build(ForecastType.CALIBRATED, calibration(1.0)).rates
    per_kwh = build(ForecastType.PER_KWH, None).rates
    predicted = build(ForecastType.PREDICTED, None).rates
    for name in ("PERIOD_16_30", "PERIOD_17_00"):  # every interval starts before 17:25
        k = index_of(name)
        assert calibrated.buy_dollars_per_kwh[k] == per_kwh.buy_dollars_per_kwh[k]
        assert calibrated.sell_dollars_per_kwh[k] == per_kwh.sell_dollars_per_kwh[k]
        assert calibrated.buy_dollars_per_kwh[k] != predicted.buy_dollars_per_kwh[k]
    fading = [index_of(name) for name in ("PERIOD_18_00", "PERIOD_18_30", "PERIOD_19_00")]
    shares = []
    for k in fading:  # part of the way, less the later the half-hour starts
        low, high = predicted.buy_dollars_per_kwh[k], per_kwh.buy_dollars_per_kwh[k]
        assert low < calibrated.buy_dollars_per_kwh[k] < high
        shares.append((calibrated.buy_dollars_per_kwh[k] - low) / (high - low))
    assert shares == sorted(shares, reverse=True)
    for name in ("PERIOD_19_30", "PERIOD_20_00"):  # start 3 h or more ahead
        k = index_of(name)
        assert calibrated.buy_dollars_per_kwh[k] == predicted.buy_dollars_per_kwh[k]
    built = build(ForecastType.CALIBRATED, calibration(1.0))
    assert any("calibrated forecast: 100%" in note for note in built.notes)


def test_calibrated_without_evidence_is_exactly_predicted() -> None:
    predicted = build(ForecastType.PREDICTED, None).rates
    assert build(ForecastType.CALIBRATED, None).rates == predicted
    assert build(ForecastType.CALIBRATED, calibration(0.0)).rates == predicted
    # Other forecast types ignore a calibration.
    assert build(ForecastType.PREDICTED, calibration(1.0)).rates == predicted


def test_half_weight_lands_between_the_two_forecasts() -> None:
    k = index_of("PERIOD_17_00")
    half = build(ForecastType.CALIBRATED, calibration(0.5)).rates.buy_dollars_per_kwh[k]
    low = build(ForecastType.PREDICTED, None).rates.buy_dollars_per_kwh[k]
    high = build(ForecastType.PER_KWH, None).rates.buy_dollars_per_kwh[k]
    assert low < half < high
    assert abs(half - (low + high) / 2) <= 0.0001  # rounding to 4 decimals
