"""Site-local wall clock: which real (UTC) half-hour each Tesla period stands for on a given day.

A Tesla tariff is a static day of 48 wall-clock half-hours with no time zone attached
(external_apis.md §2.5: "Times are site-local wall clock (the tariff carries no time zone)").
For a site in ``zone`` and a local calendar ``day``, period ``i`` (``PERIOD_HH_MM`` by START) is the
wall-clock half-hour starting ``i * 30`` minutes after local midnight.

Rule (one principle for both DST change days): the wall-clock start is resolved to an instant with
``fold=0`` (PEP 495), and the period stands for the 30 real minutes that follow that instant.

* Spring forward (first Sunday of October in NSW/ACT/VIC/TAS/SA, 02:00 -> 03:00): the wall times
  02:00 and 02:30 do not exist. ``fold=0`` resolves them with the pre-transition offset, so
  ``PERIOD_02_00`` and ``PERIOD_02_30`` stand for the same real half-hours as ``PERIOD_03_00`` and
  ``PERIOD_03_30`` (the first real half-hours after the jump). The battery never lives through
  02:00-03:00 that night, so these two periods only need a plausible, real price — never a gap.
* Fall back (first Sunday of April, 03:00 -> 02:00): the wall times 02:00-03:00 occur twice.
  ``fold=0`` picks the FIRST occurrence (daylight time); the second real hour is not represented,
  and Tesla applies the first hour's prices to both (but see the rolling window below).

Either way the day always has exactly 48 periods covering 24 wall-clock hours, and every period is
a real 30-minute span.

Rolling window (SPEC §4.3, ``rolling_starts_epoch_s``): at ``now``, a period whose half-hour today
has not ended stands for today's; one already over stands for the same wall-clock half-hour
tomorrow. The period the wall clock shows at ``now`` always stands for the real current half-hour:
this differs from the rule above only in the second pass of a fall-back hour, where the battery
would otherwise see tomorrow's price for the half-hour it is living through.

Every Australian zone has a UTC offset that is a multiple of 30 minutes (Adelaide +9:30/+10:30,
Darwin +9:30), so each span lies on the UTC half-hour grid; a zone that does not (Australia/Eucla,
+8:45) is rejected with ``ValueError``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from tariffs.engine.model import PERIODS_PER_DAY

HALF_HOUR_S = 1800

__all__ = [
    "HALF_HOUR_S",
    "half_hour_starts_epoch_s",
    "half_hour_starts_utc",
    "local_day",
    "next_day",
    "rolling_starts_epoch_s",
]


@lru_cache(maxsize=256)
def half_hour_starts_epoch_s(day: date, zone: ZoneInfo) -> tuple[int, ...]:
    """POSIX seconds of the real start of each of the 48 periods of ``day`` in ``zone``.

    Period ``i`` covers ``[start, start + 1800 s)``. Cached (depends only on its arguments).
    """
    starts: list[int] = []
    for index in range(PERIODS_PER_DAY):
        wall = datetime.combine(day, time(index // 2, (index % 2) * 30), tzinfo=zone)  # fold=0
        starts.append(int(wall.timestamp()))
    return tuple(starts)


def half_hour_starts_utc(day: date, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The same starts as aware UTC datetimes (for display and tests)."""
    return tuple(datetime.fromtimestamp(s, tz=UTC) for s in half_hour_starts_epoch_s(day, zone))


def rolling_starts_epoch_s(now: datetime, zone: ZoneInfo) -> tuple[list[int], list[bool]]:
    """For each period at ``now``: the real start of the half-hour it stands for, and whether that
    half-hour is tomorrow's (see the module docstring)."""
    local = now.astimezone(zone)
    today = local.date()
    starts_today = half_hour_starts_epoch_s(today, zone)
    if starts_today[0] % HALF_HOUR_S:
        raise ValueError(f"{zone.key}: UTC offset is not a multiple of 30 minutes")
    starts_tomorrow = half_hour_starts_epoch_s(next_day(today), zone)
    now_s = now.timestamp()
    current_index = (local.hour * 60 + local.minute) // 30
    starts: list[int] = []
    tomorrow: list[bool] = []
    for index in range(PERIODS_PER_DAY):
        if index == current_index:
            starts.append(int(now_s // HALF_HOUR_S) * HALF_HOUR_S)
            tomorrow.append(False)
        elif starts_today[index] + HALF_HOUR_S <= now_s:
            starts.append(starts_tomorrow[index])
            tomorrow.append(True)
        else:
            starts.append(starts_today[index])
            tomorrow.append(False)
    return starts, tomorrow


def local_day(now: datetime, zone: ZoneInfo) -> date:
    """The site-local calendar date of the aware instant ``now``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(zone).date()


def next_day(day: date) -> date:
    return day + timedelta(days=1)
