"""Amber REST: the real AmberClient against the simulator's Amber API."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from pricing.providers.amber import (
    AmberClient,
    AuthFailed,
    ChannelType,
    IntervalType,
    NotFound,
    PriceInterval,
    RateLimited,
)

from .conftest import Sim

pytestmark = pytest.mark.integration

CAPTURE_DAY = date(2025, 6, 28)  # NEM day of the pinned clock


def client_for(sim: Sim, household: dict, session: requests.Session) -> AmberClient:
    return AmberClient(household["amber_token"], session=session, base_url=sim.urls["amber"])


def assert_labels_follow_clock(intervals: list[PriceInterval], now: datetime) -> None:
    """Actual before now, exactly one Current containing now, Forecast after, per channel."""
    for channel in (ChannelType.GENERAL, ChannelType.FEED_IN):
        rows = [i for i in intervals if i.channel_type is channel]
        assert rows, channel
        currents = [i for i in rows if i.type is IntervalType.CURRENT]
        assert len(currents) == 1
        for row in rows:
            # Amber: startTime = previous end + 1 s, nemTime = end in +10:00.
            assert row.end_time - row.start_time == timedelta(minutes=row.duration_min, seconds=-1)
            assert row.nem_time == row.end_time
            assert row.nem_time.utcoffset() == timedelta(hours=10)
            assert row.start_time.tzinfo is not None
            if row.type is IntervalType.ACTUAL:
                assert row.end_time <= now
                assert row.estimate is None
            elif row.type is IntervalType.CURRENT:
                assert row.start_time <= now < row.end_time
                assert row.estimate is not None
            else:
                assert row.start_time > now
        for earlier, later in itertools.pairwise(rows):
            assert later.start_time == earlier.end_time + timedelta(seconds=1)


def test_list_sites_returns_the_households_site(sim: Sim, session: requests.Session) -> None:
    household = sim.household(1)
    (site,) = client_for(sim, household, session).list_sites()
    assert site.id == household["amber_site_id"]
    assert site.nmi == household["nmi"]
    assert site.network == household["network"]
    assert site.interval_length_min == household["interval_length"]
    assert site.status == "active"
    assert {c.type for c in site.channels} == {ChannelType.GENERAL, ChannelType.FEED_IN}


@pytest.mark.parametrize("resolution", [5, 30])
def test_current_prices_parse_and_follow_the_simulated_clock(
    sim: Sim, session: requests.Session, resolution: int
) -> None:
    household = sim.household(1)
    client = client_for(sim, household, session)
    now = sim.now()

    rows = client.get_current_prices(
        household["amber_site_id"],
        next_intervals=12,
        previous_intervals=6,
        resolution_min=resolution,
    )

    general = [r for r in rows if r.channel_type is ChannelType.GENERAL]
    feed_in = [r for r in rows if r.channel_type is ChannelType.FEED_IN]
    assert len(general) == len(feed_in) == 1 + 12 + 6
    assert rows == general + feed_in  # Amber's order: general rows, then feed-in rows
    assert [r.type for r in general] == (
        [IntervalType.ACTUAL] * 6 + [IntervalType.CURRENT] + [IntervalType.FORECAST] * 12
    )
    assert_labels_follow_clock(rows, now)
    current = next(r for r in general if r.type is IntervalType.CURRENT)
    assert current.duration_min == resolution
    assert current.nem_date == CAPTURE_DAY
    # At 16:24 the 5-minute price has settled (35 s after it began), the half hour has not.
    assert current.estimate is (resolution == 30)
    for general_row, feed_row in zip(general, feed_in, strict=True):
        assert general_row.spot_c_per_kwh == feed_row.spot_c_per_kwh  # spot is per interval
        assert general_row.tariff_information is not None  # only on general rows
        assert feed_row.tariff_information is None
    forecasts = [r for r in general if r.type is IntervalType.FORECAST]
    assert all(r.advanced_price is not None for r in forecasts)  # < 24 h ahead


def test_current_interval_is_an_estimate_until_it_settles(
    sim: Sim, session: requests.Session
) -> None:
    household = sim.household(1)
    client = client_for(sim, household, session)
    sim.set_clock("2025-06-28T16:20:10+10:00")  # 10 s into the 16:20-16:25 interval

    early = client.get_current_prices(household["amber_site_id"], resolution_min=5)
    sim.set_clock("2025-06-28T16:21:00+10:00")
    settled = client.get_current_prices(household["amber_site_id"], resolution_min=5)

    assert [r.type for r in early] == [IntervalType.CURRENT] * 2
    assert [r.estimate for r in early] == [True, True]
    assert [r.estimate for r in settled] == [False, False]
    assert early[0].end_time == settled[0].end_time == datetime(2025, 6, 28, 6, 25, tzinfo=UTC)


def test_date_range_longer_than_seven_days_is_split_into_calls(
    sim: Sim, session: requests.Session
) -> None:
    household = sim.household(1)
    client = client_for(sim, household, session)
    before = sim.control("GET", "/stats")["requests"].get("amber", 0)

    rows = client.get_prices(
        household["amber_site_id"],
        start_date=CAPTURE_DAY - timedelta(days=9),
        end_date=CAPTURE_DAY,
        resolution_min=30,
    )

    assert sim.control("GET", "/stats")["requests"]["amber"] - before == 2  # 7 days + 3 days
    for channel in (ChannelType.GENERAL, ChannelType.FEED_IN):
        mine = [r for r in rows if r.channel_type is channel]
        assert len(mine) == 10 * 48
        assert len({(r.start_time, r.end_time) for r in mine}) == len(mine)
        assert {r.nem_date for r in mine} == {CAPTURE_DAY - timedelta(days=n) for n in range(10)}
    assert_labels_follow_clock(rows, sim.now())


def test_usage_parses_with_sign_conventions(sim: Sim, session: requests.Session) -> None:
    household = sim.household(1)
    usage = client_for(sim, household, session).get_usage(
        household["amber_site_id"],
        start_date=CAPTURE_DAY - timedelta(days=2),
        end_date=CAPTURE_DAY - timedelta(days=1),
    )
    per_day = 24 * 60 // household["interval_length"]
    general = [u for u in usage if u.channel_type is ChannelType.GENERAL]
    feed_in = [u for u in usage if u.channel_type is ChannelType.FEED_IN]
    assert len(general) == len(feed_in) == 2 * per_day
    assert {u.channel_identifier for u in general} == {"E1"}
    assert {u.channel_identifier for u in feed_in} == {"B1"}
    assert all(u.kwh >= 0 for u in general)
    assert all(u.kwh <= 0 for u in feed_in)  # generation is negative
    assert any(u.kwh < 0 for u in feed_in)  # the sun shone on a June day
    assert {u.duration_min for u in usage} == {household["interval_length"]}
    assert all(u.start_time.tzinfo is not None for u in usage)


def test_rate_limit_headers_are_read_and_429_becomes_rate_limited(
    sim: Sim, session: requests.Session
) -> None:
    sim.control("POST", "/rate-limits", {"amber": {"enabled": True, "limit": 3, "window_s": 60}})
    client = client_for(sim, sim.household(2), session)
    assert client.rate_limit is None

    client.list_sites()
    status = client.rate_limit
    assert status is not None
    assert (status.limit, status.remaining, status.policy, status.window_s) == (3, 2, "3;w=60", 60)
    assert status.reset_at is not None
    assert status.observed_at < status.reset_at <= status.observed_at + timedelta(seconds=60)

    client.list_sites()
    client.list_sites()
    assert client.rate_limit is not None
    assert client.rate_limit.remaining == 0
    with pytest.raises(RateLimited) as caught:
        client.list_sites()
    assert caught.value.status_code == 429
    assert 0 < caught.value.retry_after <= 60

    # The budget is per token: another household is unaffected.
    client_for(sim, sim.household(3), session).list_sites()


def test_wrong_token_is_auth_failed(sim: Sim, session: requests.Session) -> None:
    household = sim.household(1)
    client = AmberClient("psk_sim_1_notavalidcheck", session=session, base_url=sim.urls["amber"])
    with pytest.raises(AuthFailed) as caught:
        client.get_current_prices(household["amber_site_id"])
    assert caught.value.status_code == 401


def test_another_households_site_is_not_found(sim: Sim, session: requests.Session) -> None:
    client = client_for(sim, sim.household(1), session)
    with pytest.raises(NotFound) as caught:
        client.get_current_prices(sim.household(2)["amber_site_id"])
    assert caught.value.status_code == 404
