"""Amber live prices: the real AmberLiveListener against the simulator's WebSocket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pricing.providers.amber import (
    AmberLiveListener,
    AuthFailed,
    ChannelType,
    IntervalType,
    LiveConfig,
    LiveNotEnabled,
    LiveState,
    LiveStateChange,
    PriceInterval,
)

from .conftest import Sim

pytestmark = pytest.mark.integration

WAIT_S = 10.0


def fast_config(sim: Sim) -> LiveConfig:
    return LiveConfig(
        url=sim.urls["amber_ws"],
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        ack_timeout_s=5,
        idle_timeout_s=30,
        open_timeout_s=5,
        close_timeout_s=1,
        proxy=None,
    )


class Recorder:
    """Collects what the listener hands to its callbacks, with awaitable milestones."""

    def __init__(self) -> None:
        self.updates: asyncio.Queue[tuple[str, list[PriceInterval]]] = asyncio.Queue()
        self.states: list[LiveState] = []
        self._changed = asyncio.Condition()

    def on_prices(self, site_id: str, intervals: list[PriceInterval]) -> None:
        self.updates.put_nowait((site_id, intervals))

    async def on_state(self, change: LiveStateChange) -> None:
        async with self._changed:
            self.states.append(change.state)
            self._changed.notify_all()

    async def wait_for_live(self, times: int) -> None:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self.states.count(LiveState.LIVE) >= times), WAIT_S
            )

    def drain(self) -> None:
        while not self.updates.empty():
            self.updates.get_nowait()


async def control(sim: Sim, path: str, body: dict[str, Any] | None = None) -> Any:
    return await asyncio.to_thread(sim.control, "POST", path, body or {})


def assert_current_prices(site_id: str, update: tuple[str, list[PriceInterval]]) -> None:
    got_site, intervals = update
    assert got_site == site_id
    assert [i.type for i in intervals] == [IntervalType.CURRENT, IntervalType.CURRENT]
    assert [i.channel_type for i in intervals] == [ChannelType.GENERAL, ChannelType.FEED_IN]


def test_listener_receives_pushes_reconnects_after_a_drop_and_stops_cleanly(sim: Sim) -> None:
    household = sim.household(1)
    site_id = household["amber_site_id"]

    async def scenario() -> AmberLiveListener:
        recorder = Recorder()
        listener = AmberLiveListener(
            household["amber_token"],
            site_id,
            on_prices=recorder.on_prices,
            on_state=recorder.on_state,
            config=fast_config(sim),
        )
        task = asyncio.create_task(listener.run())
        await recorder.wait_for_live(1)
        recorder.drain()

        assert (await control(sim, "/amber-ws/push", {"site_id": site_id}))["sent"] == 1
        assert_current_prices(site_id, await asyncio.wait_for(recorder.updates.get(), WAIT_S))

        assert (await control(sim, "/amber-ws/drop", {"site_id": site_id}))["dropped"] == 1
        await recorder.wait_for_live(2)  # reconnected and resubscribed
        recorder.drain()
        assert LiveState.BACKING_OFF in recorder.states
        assert (await control(sim, "/amber-ws/push", {"site_id": site_id}))["sent"] == 1
        assert_current_prices(site_id, await asyncio.wait_for(recorder.updates.get(), WAIT_S))

        listener.stop()
        assert await asyncio.wait_for(task, WAIT_S) is LiveState.STOPPED
        return listener

    listener = asyncio.run(scenario())
    assert listener.connect_attempts == 2
    assert listener.updates_received >= 2
    assert listener.last_price_at is not None
    # The socket was closed on stop (the server forgets it once its close handshake ends).
    deadline = time.monotonic() + 2
    while sim.control("GET", "/amber-ws")["connections"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.control("GET", "/amber-ws")["connections"] == 0


def test_household_not_enabled_for_live_prices_stops_with_not_enabled(sim: Sim) -> None:
    household = sim.household(2)
    sim.control("POST", f"/households/{household['index']}", {"amber_ws_enabled": False})
    try:
        listener = AmberLiveListener(
            household["amber_token"],
            household["amber_site_id"],
            on_prices=lambda site_id, intervals: None,
            config=fast_config(sim),
        )
        state = asyncio.run(asyncio.wait_for(listener.run(), WAIT_S))
    finally:
        sim.control("POST", f"/households/{household['index']}", {"amber_ws_enabled": True})
    assert state is LiveState.NOT_ENABLED
    assert isinstance(listener.last_error, LiveNotEnabled)
    assert listener.last_error.status_code == 403
    assert listener.connect_attempts == 1  # terminal: no reconnect loop


def test_wrong_token_at_the_handshake_is_auth_failed(sim: Sim) -> None:
    listener = AmberLiveListener(
        "psk_sim_1_notavalidcheck",
        sim.household(1)["amber_site_id"],
        on_prices=lambda site_id, intervals: None,
        config=fast_config(sim),
    )
    state = asyncio.run(asyncio.wait_for(listener.run(), WAIT_S))
    assert state is LiveState.AUTH_FAILED
    assert isinstance(listener.last_error, AuthFailed)


def test_subscribing_to_another_households_site_is_rejected(sim: Sim) -> None:
    listener = AmberLiveListener(
        sim.household(1)["amber_token"],
        sim.household(2)["amber_site_id"],
        on_prices=lambda site_id, intervals: None,
        config=fast_config(sim),
    )
    state = asyncio.run(asyncio.wait_for(listener.run(), WAIT_S))
    assert state is LiveState.REJECTED
    assert listener.last_error is not None
    assert listener.last_error.status_code == 404
