"""Properties: any valid input -> 48 periods over 24 h, finite non-negative rates, stable rounding.

Includes the 2025 and 2026 DST change days in every Australian zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tariffs.engine.adjustments import c_per_kwh_to_dollars, round_dollars_per_kwh
from tariffs.engine.amber import build_amber_rates, parse_amber_intervals
from tariffs.engine.freshness import Built
from tariffs.engine.localtime import half_hour_starts_epoch_s
from tariffs.engine.settings import ExportBoost, ForecastType, TariffSettings
from tests.tariffs.engine.test_amber import synthetic_intervals
from tests.tariffs.engine.test_localtime import AU_ZONES, FALL_BACK, SPRING_FORWARD

DST_DAYS = SPRING_FORWARD + FALL_BACK


def check_tariff(result: Built | object) -> Built:
    assert isinstance(result, Built), getattr(result, "reason", result)
    for side in (result.rates.buy_dollars_per_kwh, result.rates.sell_dollars_per_kwh):
        assert len(side) == 48
        for value in side:
            assert value.is_finite()
            assert value >= 0  # Tesla rejects negative rates (SPEC §4.9)
            assert round_dollars_per_kwh(value) == value  # already rounded: idempotent
            assert -value.as_tuple().exponent <= 4  # type: ignore[operator]
    return result


def build_around(now: datetime, zone: ZoneInfo, **kwargs: object) -> Built:
    rows = synthetic_intervals(
        now=now,
        first_end=floor_5min(now.astimezone(UTC) - timedelta(hours=2)),
        last_end=now.astimezone(UTC) + timedelta(hours=25),
        **kwargs,  # type: ignore[arg-type]
    )
    return check_tariff(build_amber_rates(parse_amber_intervals(rows), zone=zone, now=now))


def floor_5min(value: datetime) -> datetime:
    return datetime.fromtimestamp(int(value.timestamp()) // 300 * 300, tz=UTC)


@pytest.mark.parametrize("zone_name", AU_ZONES)
@pytest.mark.parametrize("day", DST_DAYS)
@pytest.mark.parametrize("hour", [0, 1, 2, 3, 4, 12, 23])
def test_dst_change_days_build_48_periods(zone_name: str, day: date, hour: int) -> None:
    zone = ZoneInfo(zone_name)
    now = floor_5min(datetime(day.year, day.month, day.day, hour, 7, tzinfo=zone))
    now = now.astimezone(UTC) + timedelta(minutes=2)  # real time; a nonexistent wall time resolves
    result = build_around(now, zone)
    assert len(result.rates.buy_dollars_per_kwh) == 48


def test_spring_forward_missing_hour_uses_the_hour_after_the_jump() -> None:
    # Seen from 00:01 on the change day, every period is "today" (later, 02:00 would be over
    # and take tomorrow's ordinary 02:00).
    zone = ZoneInfo("Australia/Sydney")
    now = datetime(2025, 10, 5, 0, 1, tzinfo=zone)
    rows = synthetic_intervals(
        now=now,
        first_end=now - timedelta(minutes=31),
        last_end=now + timedelta(hours=25),
        price_c=lambda end_s: float(((end_s - 1) // 1800) % 1000),  # = its half-hour
    )
    result = check_tariff(build_amber_rates(parse_amber_intervals(rows), zone=zone, now=now))
    starts = half_hour_starts_epoch_s(date(2025, 10, 5), zone)
    buy = result.rates.buy_dollars_per_kwh
    # price = (half-hour bucket % 1000) c; PERIOD_02_00 and PERIOD_03_00 share bucket starts[4]
    assert buy[4] == buy[6] == c_per_kwh_to_dollars(float((starts[4] // 1800) % 1000))
    assert buy[5] == buy[7]


def test_fall_back_repeated_hour_uses_the_first_occurrence() -> None:
    zone = ZoneInfo("Australia/Melbourne")
    now = datetime(2026, 4, 5, 0, 1, tzinfo=zone)
    rows = synthetic_intervals(
        now=now,
        first_end=now - timedelta(minutes=31),
        last_end=now + timedelta(hours=26),
        price_c=lambda end_s: float(((end_s - 1) // 1800) % 1000),  # = its half-hour
    )
    result = check_tariff(build_amber_rates(parse_amber_intervals(rows), zone=zone, now=now))
    # PERIOD_02_00 = 02:00+11:00 = 2026-04-04T15:00Z -> bucket of 15:00Z
    first = int(datetime(2026, 4, 4, 15, 0, tzinfo=UTC).timestamp()) // 1800
    assert result.rates.buy_dollars_per_kwh[4] == c_per_kwh_to_dollars(float(first % 1000))


def test_second_pass_of_the_repeated_hour_prices_the_real_current_half_hour() -> None:
    # Sydney 2026-04-05: 16:10Z is 02:10 AEST, the SECOND 02:10 of the night. PERIOD_02_00's
    # first occurrence (15:00Z) is over, but the battery is living through 02:00-02:30 again,
    # so PERIOD_02_00 takes the real current half-hour 16:00Z, not tomorrow's 02:00.
    zone = ZoneInfo("Australia/Sydney")
    now = datetime(2026, 4, 4, 16, 10, tzinfo=UTC)
    rows = synthetic_intervals(
        now=now,
        first_end=datetime(2026, 4, 4, 15, 5, tzinfo=UTC),
        last_end=now + timedelta(hours=25),
        price_c=lambda end_s: float(((end_s - 1) // 1800) % 1000),
    )
    result = check_tariff(build_amber_rates(parse_amber_intervals(rows), zone=zone, now=now))
    current = int(datetime(2026, 4, 4, 16, 0, tzinfo=UTC).timestamp()) // 1800
    assert result.rates.buy_dollars_per_kwh[4] == c_per_kwh_to_dollars(float(current % 1000))
    # PERIOD_02_30 (first pass 15:30Z, over) takes tomorrow's 02:30 (+10:00 = 16:30Z on the 5th)
    tomorrow = int(datetime(2026, 4, 5, 16, 30, tzinfo=UTC).timestamp()) // 1800
    assert result.rates.buy_dollars_per_kwh[5] == c_per_kwh_to_dollars(float(tomorrow % 1000))


prices = st.floats(min_value=-1000, max_value=20000, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    zone_name=st.sampled_from(AU_ZONES),
    instant=st.datetimes(
        min_value=datetime(2025, 1, 1),  # hypothesis bounds are naive; tz from `timezones`
        max_value=datetime(2026, 12, 31),
        timezones=st.just(UTC),
    ),
    base=prices,
    swing=st.floats(min_value=0, max_value=500),
    duration=st.sampled_from([5, 30]),
    forecast=st.sampled_from(list(ForecastType)),
    spike=st.booleans(),
    boost=st.booleans(),
)
def test_any_valid_input_gives_a_valid_tariff(
    zone_name: str,
    instant: datetime,
    base: float,
    swing: float,
    duration: int,
    forecast: ForecastType,
    spike: bool,
    boost: bool,
) -> None:
    assume(base != 0 or swing != 0)  # all-zero buy prices are refused on purpose (test_freshness)
    zone = ZoneInfo(zone_name)
    step = duration * 60
    now_s = int(instant.timestamp())
    first_end = datetime.fromtimestamp((now_s // step) * step, tz=UTC) - timedelta(hours=1)
    rows = synthetic_intervals(
        now=instant,
        first_end=first_end,
        last_end=instant + timedelta(hours=25),
        duration_min=duration,
        price_c=lambda end_s: base + swing * ((end_s // 300) % 13 - 6) / 6,
    )
    if spike:
        for row in rows[::7]:
            row["spikeStatus"] = "spike"
    options = TariffSettings(
        forecast_type=forecast,
        spike_protection=spike,
        export_boost=ExportBoost(offset_c_per_kwh=3, min_c_per_kwh=15) if boost else None,
    )
    result = check_tariff(
        build_amber_rates(parse_amber_intervals(rows), zone=zone, now=instant, settings=options)
    )
    # every period is priced from data 0-24 h ahead of now (or the current half-hour)
    assert len(result.rates.sell_dollars_per_kwh) == 48


@given(st.decimals(min_value=-100, max_value=100, allow_nan=False, allow_infinity=False, places=8))
def test_rounding_is_idempotent(value: Decimal) -> None:
    once = round_dollars_per_kwh(value)
    assert round_dollars_per_kwh(once) == once
    assert str(round_dollars_per_kwh(once)) == str(once)
    assert abs(once - value) <= Decimal("0.00005")
    assert "E" not in str(once)
