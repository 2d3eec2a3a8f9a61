"""The Amber live listener process: relevance rule (unit) and the process against the simulator.

The process does its database work in a worker thread (``sync_to_async``), so the integration
tests use ``transaction=True`` (committed rows, visible to every connection).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from credentials.models import SiteCredentials
from devices.models import Site
from ops.devrun import simulator_environment
from ops.models import Heartbeat
from powersync_site.celery import app as celery_app
from pricing.live_listener import (
    AmberLiveProcess,
    Change,
    EnqueueLedger,
    ListenerConfig,
    LiveSite,
    PriceSnapshot,
    SiteTarget,
    live_sites_load,
    price_snapshot,
    relevant_changes,
)
from pricing.models import AmberPriceInterval
from pricing.providers.amber import (
    AmberLiveHub,
    ChannelType,
    IntervalType,
    LiveConfig,
    LiveState,
    PriceInterval,
    SpikeStatus,
)
from simulator import SimulatorThread
from tests.automations.conftest import control
from tests.factories import SiteFactory

UTC = dt.UTC
T0 = dt.datetime(2025, 6, 28, 6, 25, tzinfo=UTC)  # end of the 16:20-16:25 NEM interval
T1 = T0 + dt.timedelta(minutes=5)
WAIT_S = 30.0  # generous: a loaded CI machine must not turn slowness into failure


# --- unit: the relevance rule ----------------------------------------------------------------


def snap(
    end: dt.datetime = T0,
    *,
    estimate: bool = False,
    feed_in: str | None = "-20",
    spike: SpikeStatus = SpikeStatus.NONE,
) -> PriceSnapshot:
    return PriceSnapshot(
        interval_end=end,
        estimate=estimate,
        feed_in_c_per_kwh=Decimal(feed_in) if feed_in is not None else None,
        spike_status=spike,
    )


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        pytest.param(None, snap(), {Change.SETTLED}, id="first-settled"),
        pytest.param(None, snap(estimate=True), set(), id="first-estimate"),
        pytest.param(snap(), snap(), set(), id="same-settled-again"),
        pytest.param(snap(estimate=True), snap(), {Change.SETTLED}, id="estimate-then-settled"),
        pytest.param(snap(T0), snap(T1), {Change.SETTLED}, id="settled-new-interval"),
        pytest.param(snap(T0), snap(T1, estimate=True), set(), id="estimate-new-interval"),
        pytest.param(
            snap(T0), snap(T1, estimate=True, feed_in="3"), {Change.FEED_IN_SIGN}, id="flip"
        ),
        pytest.param(snap(feed_in="2"), snap(feed_in="0"), set(), id="both-not-earning"),
        pytest.param(snap(feed_in="-0.01"), snap(feed_in="0"), {Change.FEED_IN_SIGN}, id="to-0"),
        pytest.param(snap(feed_in=None), snap(feed_in="5"), set(), id="no-feed-in-before"),
        pytest.param(
            snap(T0),
            snap(T1, estimate=True, spike=SpikeStatus.POTENTIAL),
            {Change.SPIKE_STATUS},
            id="spike-status",
        ),
        pytest.param(
            snap(T0, estimate=True),
            snap(T0, spike=SpikeStatus.SPIKE, feed_in="4"),
            {Change.SETTLED, Change.FEED_IN_SIGN, Change.SPIKE_STATUS},
            id="all-three",
        ),
        pytest.param(snap(T1), snap(T0, feed_in="9"), set(), id="older-interval-ignored"),
    ],
)
def test_relevance_rule(
    previous: PriceSnapshot | None, current: PriceSnapshot, expected: set[Change]
) -> None:
    assert relevant_changes(previous, current) == frozenset(expected)


def interval(
    channel: ChannelType,
    price: str,
    *,
    estimate: bool | None = False,
    spike: SpikeStatus = SpikeStatus.NONE,
    kind: IntervalType = IntervalType.CURRENT,
    end: dt.datetime = T0,
) -> PriceInterval:
    return PriceInterval(
        type=kind,
        channel_type=channel,
        duration_min=5,
        start_time=end - dt.timedelta(minutes=5) + dt.timedelta(seconds=1),
        end_time=end,
        nem_time=end,
        nem_date=end.date(),
        price_c_per_kwh=Decimal(price),
        spot_c_per_kwh=Decimal("10"),
        renewables_pct=30.0,
        spike_status=spike,
        descriptor="neutral",
        estimate=estimate,
    )


def test_snapshot_reads_the_current_interval_of_every_channel() -> None:
    snapshot = price_snapshot(
        [
            interval(ChannelType.GENERAL, "30", kind=IntervalType.ACTUAL, end=T0, estimate=None),
            interval(ChannelType.GENERAL, "40", end=T1, estimate=False),
            interval(ChannelType.FEED_IN, "-12.5", end=T1, estimate=True, spike=SpikeStatus.SPIKE),
        ]
    )
    assert snapshot == PriceSnapshot(
        interval_end=T1,
        estimate=True,  # settled only when every channel is
        feed_in_c_per_kwh=Decimal("-12.5"),
        spike_status=SpikeStatus.SPIKE,
    )
    assert snapshot.export_earns is True
    assert price_snapshot([]) is None


def test_ledger_allows_one_claim_per_site_kind_and_interval() -> None:
    ledger = EnqueueLedger()
    assert ledger.claim(1, "sync", T0)
    assert not ledger.claim(1, "sync", T0)
    assert ledger.claim(1, "curtail", T0)
    assert ledger.claim(2, "sync", T0)
    assert not ledger.claim(1, "sync", T0 - dt.timedelta(minutes=5))  # older interval
    assert ledger.claim(1, "sync", T1)
    ledger.release(1, "sync", T1)  # the enqueue failed: may be retried
    assert ledger.claim(1, "sync", T1)
    ledger.forget([1])
    assert len(ledger) == 1
    assert ledger.claim(1, "sync", T0)


@pytest.mark.parametrize(
    ("now", "delay_s", "first"),
    [
        (dt.datetime(2025, 6, 28, 6, 25, 0, tzinfo=UTC), 35.0, True),
        (dt.datetime(2025, 6, 28, 6, 25, 40, tzinfo=UTC), 20.0, False),
        (dt.datetime(2025, 6, 28, 6, 26, 0, tzinfo=UTC), 275.0, True),
    ],
)
def test_rest_polls_follow_the_interval_cadence(now: dt.datetime, delay_s: float, first: bool):
    process = AmberLiveProcess(
        load_sites=_no_sites, live_config=LiveConfig(url="ws://127.0.0.1:1"), clock=lambda: now
    )
    assert process._next_poll() == (delay_s, first)


async def _no_sites() -> list[LiveSite]:
    return []


def test_live_site_repr_hides_the_token() -> None:
    site = LiveSite(amber_site_id="01ABC", token="psk_secret", targets=(SiteTarget(1, True, True),))
    assert "psk_secret" not in repr(site)


# --- integration: the process against the simulator -------------------------------------------

NOW = "2025-06-28T16:24:00+10:00"  # the 16:20-16:25 interval has settled
NEXT_ESTIMATE = "2025-06-28T16:25:10+10:00"
NEXT_SETTLED = "2025-06-28T16:25:40+10:00"


@pytest.fixture(scope="module")
def live_sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(households=8, seed=5, speed=0) as thread:
        yield thread


@pytest.fixture
def world(live_sim: SimulatorThread, settings: Any, fernet_keys: Any) -> Iterator[SimulatorThread]:
    base = live_sim.base_urls["control"].removesuffix("/control")
    for name, value in simulator_environment(base).items():
        setattr(settings, name, value)
    _reset(live_sim)
    yield live_sim
    _reset(live_sim)
    for index in range(1, 9):
        control(live_sim, f"/households/{index}", {"amber_ws_enabled": True})


def _reset(sim: SimulatorThread) -> None:
    control(sim, "/scenario", {"name": "normal"})
    control(sim, "/latency", {"amber_ms": 0, "tesla_ms": 0, "aemo_ms": 0})
    control(sim, "/clock", {"now": NOW, "speed": 0})
    control(sim, "/rate-limits", {"amber": {"enabled": False}, "teslemetry": {"enabled": False}})
    control(sim, "/amber-ws/drop", {})


def household(sim: SimulatorThread, index: int) -> dict[str, Any]:
    return dict(control(sim, f"/households/{index}"))


def make_site(
    sim: SimulatorThread,
    index: int,
    *,
    sync: bool = True,
    curtail: bool = True,
    token: str | None = None,
) -> Site:
    h = household(sim, index)
    site = SiteFactory.create(
        amber_site_id=h["amber_site_id"],
        tou_sync_enabled=sync,
        curtailment_enabled=curtail,
        time_zone=h["time_zone"],
    )
    SiteCredentials.objects.create(site=site, amber_token=token or h["amber_token"])
    return site


def fast_live(sim: SimulatorThread) -> LiveConfig:
    return LiveConfig(
        url=sim.base_urls["amber_ws"],
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        ack_timeout_s=5,
        idle_timeout_s=30,
        open_timeout_s=5,
        close_timeout_s=1,
        proxy=None,
    )


def fast_config(**overrides: Any) -> ListenerConfig:
    values: dict[str, Any] = {
        "reconcile_s": 3600.0,  # the tests call reconcile() themselves
        "health_check_s": 0.05,
        "silence_s": 3600.0,
        "terminal_retry_s": 3600.0,
        "poll_offsets_s": (),  # no wall-clock polls: the tests call poll_now()
    }
    values.update(overrides)
    return ListenerConfig(**values)


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def push(sim: SimulatorThread, site_id: str | None = None) -> int:
    body = {"site_id": site_id} if site_id else {}
    return int((await asyncio.to_thread(control, sim, "/amber-ws/push", body))["sent"])


async def set_clock(sim: SimulatorThread, now: str) -> None:
    await asyncio.to_thread(control, sim, "/clock", {"now": now, "speed": 0})


def run_process(
    sim: SimulatorThread,
    scenario: Callable[[AmberLiveProcess], Awaitable[None]],
    **config: Any,
) -> AmberLiveProcess:
    """Run the process with ``scenario`` alongside it, then stop it cleanly."""

    async def main() -> AmberLiveProcess:
        process = AmberLiveProcess(live_config=fast_live(sim), config=fast_config(**config))
        stop = asyncio.Event()
        runner = asyncio.create_task(process.run(stop))
        try:
            await scenario(process)
        finally:
            stop.set()
            await asyncio.wait_for(runner, WAIT_S)
        return process

    return asyncio.run(main())


async def all_live(process: AmberLiveProcess, count: int) -> None:
    await until(lambda: process.status().live == count, f"{count} live connections")


async def processed(process: AmberLiveProcess, updates: int) -> None:
    """Wait until ``updates`` updates were received and everything queued was written."""
    await until(lambda: process.updates >= updates, f"{updates} updates")
    await process.flush()


def sends(send_task: mock.MagicMock) -> list[tuple[str, list[Any], str]]:
    """(task, args, queue) of what the dispatch point sent (Task.apply_async → send_task)."""
    return [(c.args[0], list(c.args[1]), c.kwargs["queue"]) for c in send_task.call_args_list]


def stored(amber_site_id: str) -> list[tuple[str, dt.datetime, bool]]:
    rows = AmberPriceInterval.objects.filter(amber_site_id=amber_site_id).order_by(
        "end_at", "channel"
    )
    return [(row.channel, row.end_at, row.is_estimate) for row in rows]


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_selector_loads_amber_sites_that_want_live_prices(world: SimulatorThread) -> None:
    wanted = make_site(world, 1, sync=True, curtail=False)
    make_site(world, 2, sync=False, curtail=False)  # nothing to do with prices
    reauth = make_site(world, 3)
    Site.objects.filter(pk=reauth.pk).update(needs_reauthorisation=True)
    no_token = SiteFactory.create(amber_site_id=household(world, 4)["amber_site_id"])
    SiteCredentials.objects.create(site=no_token, teslemetry_api_key="tlm_x")
    twin = make_site(world, 1, sync=False, curtail=True)  # a second site on the same Amber site

    sites = live_sites_load()

    assert len(sites) == 1
    assert sites[0].amber_site_id == wanted.amber_site_id
    assert sites[0].token == household(world, 1)["amber_token"]
    assert sites[0].targets == (
        SiteTarget(wanted.pk, sync=True, curtail=False),
        SiteTarget(twin.pk, sync=False, curtail=True),
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_update_is_stored_and_enqueues_curtail_and_sync_once_per_interval(
    world: SimulatorThread,
) -> None:
    site = make_site(world, 2)  # QLD: no spike at this moment
    amber_id = site.amber_site_id

    async def scenario(process: AmberLiveProcess) -> None:
        await all_live(process, 1)  # run() reconciles once at start
        assert await push(world, amber_id) == 1  # settled 16:20-16:25
        await processed(process, 1)
        assert await push(world, amber_id) == 1  # the same again: nothing new
        await processed(process, 2)
        # The simulator pushes by itself when the interval starts and when it settles.
        await set_clock(world, NEXT_ESTIMATE)  # new interval, still an estimate: not relevant
        await processed(process, 3)
        await set_clock(world, NEXT_SETTLED)  # settled: relevant
        await processed(process, 4)
        assert await push(world, amber_id) == 1  # duplicate settled: deduped
        await processed(process, 5)

    with mock.patch.object(celery_app, "send_task") as send_task:
        process = run_process(world, scenario)

    rows = stored(amber_id)
    t1 = T0 + dt.timedelta(minutes=5)
    assert [(channel, end) for channel, end, _ in rows] == [
        ("feedIn", T0),
        ("general", T0),
        ("feedIn", t1),
        ("general", t1),
    ]
    assert all(not estimate for _, _, estimate in rows)  # the settled price replaced the estimate
    feed_in = {
        row.end_at: float(row.price_c_per_kwh)
        for row in AmberPriceInterval.objects.filter(amber_site_id=amber_id, channel="feedIn")
    }
    assert sends(send_task) == [
        ("tasks.curtail.check_site", [site.pk, feed_in[T0], T0.isoformat()], "curtail"),
        ("tasks.sync.sync_site", [site.pk, "settled"], "sync"),
        ("tasks.curtail.check_site", [site.pk, feed_in[t1], t1.isoformat()], "curtail"),
        ("tasks.sync.sync_site", [site.pk, "settled"], "sync"),
    ]
    assert [c.kwargs["expires"] for c in send_task.call_args_list] == [120, 240, 120, 240]
    assert process.enqueued == {"curtail": 2, "sync": 2}


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_feed_in_turning_positive_enqueues_on_the_estimate_and_only_for_wanted_kinds(
    world: SimulatorThread,
) -> None:
    make_site(world, 3, sync=False, curtail=True)
    control(world, "/scenario", {"name": "negative_feed_in"})  # from 10:00: exports cost
    control(world, "/clock", {"now": "2025-06-28T09:55:40+10:00", "speed": 0})

    async def scenario(process: AmberLiveProcess) -> None:
        await all_live(process, 1)
        await push(world)  # 09:50-09:55 settled, exports earn: first settled price
        await processed(process, 1)
        await set_clock(world, "2025-06-28T10:00:10+10:00")  # estimate, feed-in turned positive
        await processed(process, 2)
        await set_clock(world, "2025-06-28T10:00:40+10:00")  # the same interval settles: deduped
        await processed(process, 3)

    with mock.patch.object(celery_app, "send_task") as send_task:
        run_process(world, scenario)

    calls = sends(send_task)
    assert [name for name, _, _ in calls] == ["tasks.curtail.check_site"] * 2
    (_, first, _), (_, second, _) = calls
    assert first[1] < 0 < second[1]  # Amber's sign: negative = the household earns
    assert (first[2], second[2]) == ("2025-06-28T00:00:00+00:00", "2025-06-28T00:05:00+00:00")


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_reconcile_adds_removes_and_replaces_without_touching_unchanged_sites(
    world: SimulatorThread,
) -> None:
    kept = make_site(world, 4)
    dropped = make_site(world, 5)
    rekeyed = make_site(world, 6)

    async def scenario(process: AmberLiveProcess) -> None:
        await all_live(process, 3)
        kept_listener = process.hub.listener(kept.amber_site_id)
        assert kept_listener is not None

        added = await asyncio.to_thread(make_site, world, 7)
        await asyncio.to_thread(
            Site.objects.filter(pk=dropped.pk).update,
            tou_sync_enabled=False,
            curtailment_enabled=False,
        )
        await asyncio.to_thread(
            SiteCredentials.objects.filter(site=rekeyed).update,
            amber_token=household(world, 1)["amber_token"],  # a token that cannot see this site
        )
        assert await process.reconcile() == (1, 1, 1)
        assert await process.reconcile() == (0, 0, 0)  # stable
        await until(lambda: added.amber_site_id in process.hub.states(), "the new site")
        await until(
            lambda: process.status().live == 2 and process.polling_sites() != [],
            "the new site live, the rekeyed one refused and polled",
        )
        assert process.hub.listener(kept.amber_site_id) is kept_listener
        assert kept_listener.connect_attempts == 1  # never reconnected
        assert dropped.amber_site_id not in process.hub.states()
        assert process.polling_sites() == [rekeyed.amber_site_id]  # subscription refused (404)
        subscriptions = (await asyncio.to_thread(control, world, "/amber-ws"))["subscriptions"]
        assert subscriptions == 2
        # Each reconcile that reached the database marked the listener alive (/healthz).
        beat = await asyncio.to_thread(Heartbeat.objects.get, role="listener")
        assert (timezone.now() - beat.last_seen_at).total_seconds() < WAIT_S

    run_process(world, scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_site_not_enabled_for_live_prices_is_polled_within_the_rate_budget(
    world: SimulatorThread,
) -> None:
    h = household(world, 8)
    site = make_site(world, 8)
    control(world, "/households/8", {"amber_ws_enabled": False})
    # Fresh token window: 13 calls, of which the listener must leave 10 to the sync tasks.
    control(world, "/rate-limits", {"amber": {"enabled": True, "limit": 13, "window_s": 300}})

    async def scenario(process: AmberLiveProcess) -> None:
        await until(lambda: process.status().not_enabled == 1, "403 at the handshake")
        assert process.polling_sites() == [h["amber_site_id"]]
        assert await process.poll_now() == 1  # budget 13 -> 12 left
        assert await process.poll_now() == 1  # 12 -> 11
        assert await process.poll_now() == 1  # 11 -> 10
        assert await process.poll_now() == 0  # 10 left = the reserve: skipped
        await process.flush()

        # Live prices enabled again: the socket is retried and a price over it ends the polling.
        await asyncio.to_thread(control, world, "/households/8", {"amber_ws_enabled": True})
        await asyncio.to_thread(control, world, "/rate-limits", {"amber": {"enabled": False}})
        process._tracked[h["amber_site_id"]].socket_retry_at = 0.0
        await all_live(process, 1)
        assert await push(world, h["amber_site_id"]) == 1
        await until(lambda: process.polling_sites() == [], "polling to stop")

    with mock.patch.object(celery_app, "send_task") as send_task:
        process = run_process(world, scenario)

    assert stored(site.amber_site_id)  # REST prices stored like live ones
    assert [name for name, _, _ in sends(send_task)] == [
        "tasks.curtail.check_site",
        "tasks.sync.sync_site",
    ]  # three polls and one push of one settled interval: one of each
    assert process.status().polling == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_dropped_connection_reconnects_and_silence_falls_back_to_polling(
    world: SimulatorThread,
) -> None:
    site = make_site(world, 2)

    async def scenario(process: AmberLiveProcess) -> None:
        await all_live(process, 1)
        listener = process.hub.listener(site.amber_site_id)
        assert listener is not None
        assert (await asyncio.to_thread(control, world, "/amber-ws/drop", {}))["dropped"] == 1
        await until(lambda: listener.connect_attempts == 2, "a reconnect")
        await all_live(process, 1)
        assert await push(world, site.amber_site_id) == 1
        await processed(process, 1)
        # Nothing for longer than silence_s: poll REST until the socket delivers again.
        await until(lambda: process.polling_sites() == [site.amber_site_id], "silence")
        assert await process.poll_now() == 1
        assert await push(world, site.amber_site_id) == 1
        await until(lambda: process.polling_sites() == [], "the socket to be healthy")

    with mock.patch.object(celery_app, "send_task"):
        run_process(world, scenario, silence_s=0.5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_hub_discard_waits_until_the_site_can_be_added_again(world: SimulatorThread) -> None:
    h = household(world, 2)

    async def scenario() -> None:
        hub = AmberLiveHub(on_prices=lambda site_id, intervals: None, config=fast_live(world))
        first = hub.add(h["amber_site_id"], h["amber_token"])
        await until(lambda: first.state is LiveState.LIVE, "live")
        await hub.discard(h["amber_site_id"])
        assert first.state is LiveState.STOPPED
        assert h["amber_site_id"] not in hub
        second = hub.add(h["amber_site_id"], h["amber_token"])
        await until(lambda: second.state is LiveState.LIVE, "live again")
        await hub.discard("unknown")  # no-op
        await hub.close()

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_command_runs_for_once_seconds_prints_status_and_closes_every_socket(
    world: SimulatorThread,
) -> None:
    make_site(world, 4)
    make_site(world, 5)
    out = io.StringIO()

    call_command("listen_amber", "--once-seconds", "2", "--status-seconds", "1", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == f"amber live: listening at {world.base_urls['amber_ws']}"
    assert any(line.startswith("amber live: sites=2 live=2 ") for line in lines[1:])
    assert lines[-1].endswith("(stopped)")
    assert "psk_" not in out.getvalue()
    deadline = time.monotonic() + 2  # the server forgets a socket once its close handshake ends
    while control(world, "/amber-ws")["connections"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert control(world, "/amber-ws")["connections"] == 0
