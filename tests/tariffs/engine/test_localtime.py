"""Local wall clock -> real half-hours, for every Australian zone and the 2025/2026 DST change days.

AU DST (NSW/ACT/VIC/TAS/SA): forward on the first Sunday of October (02:00 -> 03:00), back on the
first Sunday of April (03:00 -> 02:00). 2025: 6 April back, 5 October forward; 2026: 5 April back,
4 October forward.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tariffs.engine.localtime import (
    half_hour_starts_epoch_s,
    half_hour_starts_utc,
    local_day,
    rolling_starts_epoch_s,
)

AU_ZONES = [
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Perth",
    "Australia/Hobart",
]
DST_ZONES = ["Australia/Sydney", "Australia/Melbourne", "Australia/Hobart", "Australia/Adelaide"]
SPRING_FORWARD = [date(2025, 10, 5), date(2026, 10, 4)]
FALL_BACK = [date(2025, 4, 6), date(2026, 4, 5)]


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize("zone_name", AU_ZONES)
@pytest.mark.parametrize(
    "day", [date(2025, 6, 28), date(2025, 12, 25), *SPRING_FORWARD, *FALL_BACK]
)
def test_always_48_half_hours_on_the_utc_half_hour_grid(zone_name: str, day: date) -> None:
    starts = half_hour_starts_epoch_s(day, ZoneInfo(zone_name))
    assert len(starts) == 48
    assert all(s % 1800 == 0 for s in starts)
    if day not in SPRING_FORWARD or zone_name not in DST_ZONES:
        assert starts == tuple(sorted(set(starts)))  # strictly increasing


@pytest.mark.parametrize(
    ("zone_name", "first_utc"),
    [
        ("Australia/Brisbane", utc(2025, 6, 27, 14, 0)),  # +10:00
        ("Australia/Sydney", utc(2025, 6, 27, 14, 0)),  # +10:00 in winter
        ("Australia/Melbourne", utc(2025, 6, 27, 14, 0)),
        ("Australia/Hobart", utc(2025, 6, 27, 14, 0)),
        ("Australia/Adelaide", utc(2025, 6, 27, 14, 30)),  # +09:30 in winter
        ("Australia/Darwin", utc(2025, 6, 27, 14, 30)),  # +09:30 all year
        ("Australia/Perth", utc(2025, 6, 27, 16, 0)),  # +08:00 all year
    ],
)
def test_winter_day_offsets(zone_name: str, first_utc: datetime) -> None:
    starts = half_hour_starts_utc(date(2025, 6, 28), ZoneInfo(zone_name))
    assert starts[0] == first_utc
    # an ordinary day: 48 consecutive real half-hours
    assert all((b - a).total_seconds() == 1800 for a, b in itertools.pairwise(starts))


def test_adelaide_summer_is_plus_1030() -> None:
    starts = half_hour_starts_utc(date(2025, 12, 25), ZoneInfo("Australia/Adelaide"))
    assert starts[0] == utc(2025, 12, 24, 13, 30)


@pytest.mark.parametrize("day", SPRING_FORWARD)
def test_sydney_spring_forward_missing_hour_aliases_the_hour_after_the_jump(day: date) -> None:
    starts = half_hour_starts_utc(day, ZoneInfo("Australia/Sydney"))
    prev = day - timedelta(days=1)
    midnight_utc = datetime(prev.year, prev.month, prev.day, 14, 0, tzinfo=UTC)  # 00:00 +10:00
    assert starts[0] == midnight_utc
    # PERIOD_02_00 / 02_30 do not exist on the wall; fold=0 reads them at +10:00, i.e. the real
    # half-hours the clock shows as 03:00 / 03:30 (+11:00).
    assert starts[4] == midnight_utc.replace(hour=16, minute=0)  # 02:00+10 = 16:00Z
    assert starts[5] == midnight_utc.replace(hour=16, minute=30)
    assert starts[6] == starts[4]  # PERIOD_03_00 = 03:00+11 = 16:00Z
    assert starts[7] == starts[5]
    assert len(set(starts)) == 46  # the day really has 46 half-hours
    # 23:30 is at +11:00: 12:30Z on the day itself
    assert starts[47] == datetime(day.year, day.month, day.day, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize("day", FALL_BACK)
def test_sydney_fall_back_repeated_hour_takes_the_first_occurrence(day: date) -> None:
    starts = half_hour_starts_utc(day, ZoneInfo("Australia/Sydney"))
    # 00:00 is still daylight time, +11:00 -> 13:00Z the day before
    assert starts[0].hour == 13
    assert starts[4] == starts[0].replace(hour=15)  # 02:00+11:00 (first occurrence) = 15:00Z
    assert starts[5] == starts[0].replace(hour=15, minute=30)
    assert starts[6] == starts[0].replace(hour=17)  # 03:00+10:00 = 17:00Z: 16:00-17:00Z unused
    assert len(set(starts)) == 48
    assert starts[47] == datetime(day.year, day.month, day.day, 13, 30, tzinfo=UTC)  # 23:30+10


@pytest.mark.parametrize("zone_name", DST_ZONES)
@pytest.mark.parametrize("day", SPRING_FORWARD + FALL_BACK)
def test_every_dst_zone_changes_on_the_same_days(zone_name: str, day: date) -> None:
    starts = half_hour_starts_epoch_s(day, ZoneInfo(zone_name))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    if day in SPRING_FORWARD:
        # ... 02:00, 02:30 (= 03:00, 03:30 real) then 03:00 again: one step back, no gap
        assert sorted(gaps) == [-1800] + [1800] * 46
        assert len(set(starts)) == 46
    else:
        assert sorted(gaps) == [1800] * 46 + [5400]  # 02:30 -> 03:00 skips the repeated hour
        assert len(set(starts)) == 48


@pytest.mark.parametrize("zone_name", ["Australia/Brisbane", "Australia/Perth", "Australia/Darwin"])
@pytest.mark.parametrize("day", SPRING_FORWARD + FALL_BACK)
def test_zones_without_dst_are_unaffected(zone_name: str, day: date) -> None:
    starts = half_hour_starts_epoch_s(day, ZoneInfo(zone_name))
    assert [b - a for a, b in itertools.pairwise(starts)] == [1800] * 47


def test_local_day_uses_the_site_zone() -> None:
    instant = utc(2025, 6, 28, 15, 0)  # 01:00 in Brisbane, 23:00 in Perth
    assert local_day(instant, ZoneInfo("Australia/Brisbane")) == date(2025, 6, 29)
    assert local_day(instant, ZoneInfo("Australia/Perth")) == date(2025, 6, 28)


def test_local_day_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        local_day(datetime(2025, 6, 28, 12, 0), ZoneInfo("Australia/Sydney"))


def test_rolling_window_rejects_a_zone_off_the_half_hour_grid() -> None:
    with pytest.raises(ValueError, match="multiple of 30 minutes"):
        rolling_starts_epoch_s(utc(2025, 6, 28, 6, 25), ZoneInfo("Australia/Eucla"))


def test_rolling_window_today_tomorrow_split() -> None:
    # 16:25 in Brisbane: PERIOD_16_00 (index 32) is current -> today; 00:00..15:30 -> tomorrow
    starts, tomorrow = rolling_starts_epoch_s(
        utc(2025, 6, 28, 6, 25), ZoneInfo("Australia/Brisbane")
    )
    assert tomorrow == [True] * 32 + [False] * 16
    assert starts[32] == int(utc(2025, 6, 28, 6, 0).timestamp())
    assert starts[0] == int(utc(2025, 6, 28, 14, 0).timestamp())  # 2025-06-29 00:00 +10:00
