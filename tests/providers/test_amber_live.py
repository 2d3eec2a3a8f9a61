"""AmberLiveListener / AmberLiveHub against a scripted local ``websockets`` server on 127.0.0.1.

Async tests run through ``asyncio.run`` (pytest-asyncio is not a dependency). Backoff sleeps and
jitter are injected, so reconnects happen immediately and delays are asserted exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from pricing.providers.amber import (
    AmberLiveHub,
    AmberLiveListener,
    AuthFailed,
    ChannelType,
    LiveConfig,
    LiveNotEnabled,
    LiveState,
    LiveStateChange,
    PriceInterval,
)

TOKEN = "psk_live_token_SECRET_42"
SITE = "01J0SITELIVE00000000000000"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "amber"
TEST_TIMEOUT_S = 10.0
# The fake server's own debug logs would show the header it received; keep them out of caplog
# (an unregistered logger reaches no handler pytest attaches, and WARNING skips debug lines).
SERVER_LOGGER = logging.Logger("tests.fake_amber_live_server", logging.WARNING)


def current_prices() -> list[dict[str, Any]]:
    rows = json.loads((FIXTURES / "prices_2025-06-28_resolution5.json").read_text())
    return [row for row in rows if row["type"] == "CurrentInterval"]  # general + feedIn


def price_update(site_id: str = SITE) -> str:
    return json.dumps(
        {
            "service": "live-prices",
            "action": "price-update",
            "data": {"siteId": site_id, "prices": current_prices()},
            "timestamp": "2025-06-28T06:25:40Z",
        }
    )


def ack(status: int = 200) -> str:
    return json.dumps({"service": "live-prices", "action": "subscribe", "status": status})


Script = Callable[[ServerConnection], Awaitable[None]]


class FakeAmberLive:
    """Runs one script per incoming connection (the last one repeats); records what it saw."""

    def __init__(self, *scripts: Script, refuse_status: int | None = None) -> None:
        self.scripts = scripts
        self.refuse_status = refuse_status
        self.auth_headers: list[str | None] = []
        self.subscribes: list[dict[str, Any]] = []
        self.close_codes: list[int | None] = []
        self.url = ""

    async def __aenter__(self) -> FakeAmberLive:
        self._server = await serve(
            self._handler,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            logger=SERVER_LOGGER,
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Any) -> Any:
        self.auth_headers.append(request.headers.get("authorization"))
        if self.refuse_status is not None:
            return connection.respond(HTTPStatus(self.refuse_status), "nope\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        index = min(len(self.close_codes), len(self.scripts) - 1)
        with contextlib.suppress(ConnectionClosed):
            await self.scripts[index](ws)
        await ws.wait_closed()
        self.close_codes.append(ws.close_code)

    async def expect_subscribe(self, ws: ServerConnection) -> None:
        self.subscribes.append(json.loads(await ws.recv()))


def make_config(url: str, **overrides: Any) -> LiveConfig:
    values: dict[str, Any] = {
        "url": url,
        "proxy": None,
        "idle_timeout_s": 5.0,
        "ack_timeout_s": 5.0,
    }
    values.update(overrides)
    return LiveConfig(**values)


class Recorder:
    def __init__(self) -> None:
        self.prices: list[tuple[str, list[PriceInterval]]] = []
        self.states: list[LiveStateChange] = []
        self.sleeps: list[float] = []
        self.on_update: Callable[[], None] = lambda: None

    def on_prices(self, site_id: str, intervals: list[PriceInterval]) -> None:
        self.prices.append((site_id, intervals))
        self.on_update()

    def on_state(self, change: LiveStateChange) -> None:
        self.states.append(change)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    @property
    def state_names(self) -> list[LiveState]:
        return [change.state for change in self.states]


def make_listener(url: str, recorder: Recorder, **config: Any) -> AmberLiveListener:
    return AmberLiveListener(
        TOKEN,
        SITE,
        on_prices=recorder.on_prices,
        on_state=recorder.on_state,
        config=make_config(url, **config),
        sleep=recorder.sleep,
        random=lambda: 0.5,  # jitter factor exactly 1.0
    )


def run(coro: Awaitable[Any]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, TEST_TIMEOUT_S)

    return asyncio.run(bounded())


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}"


# --- tests ------------------------------------------------------------------------------------


def test_subscribes_and_delivers_parsed_current_intervals():
    async def scenario() -> tuple[LiveState, FakeAmberLive, Recorder]:
        recorder = Recorder()

        async def script(ws: ServerConnection) -> None:
            await server.expect_subscribe(ws)
            await ws.send(ack())
            await ws.send(price_update())
            await ws.wait_closed()

        async with FakeAmberLive(script) as server:
            listener = make_listener(server.url, recorder)
            recorder.on_update = listener.stop
            state = await listener.run()
        assert listener.updates_received == 1
        assert listener.last_price_at is not None
        return state, server, recorder

    state, server, recorder = run(scenario())

    assert state is LiveState.STOPPED
    assert server.auth_headers == [f"Bearer {TOKEN}"]
    assert server.subscribes == [
        {"service": "live-prices", "action": "subscribe", "data": {"siteId": SITE}}
    ]
    ((site_id, intervals),) = recorder.prices
    assert site_id == SITE
    assert [(i.channel_type, i.price_c_per_kwh, i.estimate) for i in intervals] == [
        (ChannelType.GENERAL, Decimal("67.06283"), False),
        (ChannelType.FEED_IN, Decimal("-29.86091"), False),
    ]
    assert recorder.state_names == [
        LiveState.CONNECTING,
        LiveState.SUBSCRIBING,
        LiveState.LIVE,
        LiveState.STOPPED,
    ]
    assert server.close_codes == [1000]  # clean close handshake on stop()


def test_reconnects_and_resubscribes_after_the_server_drops_the_connection():
    async def scenario() -> tuple[FakeAmberLive, Recorder, AmberLiveListener]:
        recorder = Recorder()

        async def drop_after_one_update(ws: ServerConnection) -> None:
            await server.expect_subscribe(ws)
            await ws.send(ack())
            await ws.send(price_update())
            await ws.close(code=1012, reason="service restart")

        async def stay(ws: ServerConnection) -> None:
            await server.expect_subscribe(ws)
            await ws.send(ack())
            await ws.send(price_update())
            await ws.wait_closed()

        async with FakeAmberLive(drop_after_one_update, stay) as server:
            listener = make_listener(server.url, recorder)

            def stop_after_two() -> None:
                if len(recorder.prices) == 2:
                    listener.stop()

            recorder.on_update = stop_after_two
            await listener.run()
        return server, recorder, listener

    server, recorder, listener = run(scenario())

    assert len(server.subscribes) == 2
    assert server.subscribes[1]["data"] == {"siteId": SITE}
    assert server.auth_headers == [f"Bearer {TOKEN}"] * 2
    assert len(recorder.prices) == 2
    assert recorder.sleeps == [5.0]  # first backoff step (the update reset the attempt count)
    backing_off = [c for c in recorder.states if c.state is LiveState.BACKING_OFF]
    assert backing_off[0].detail == "connection closed (code 1012); retry in 5.0 s"
    assert listener.connect_attempts == 2
    assert listener.state is LiveState.STOPPED


def test_idle_connection_is_replaced():
    async def scenario() -> tuple[FakeAmberLive, Recorder]:
        recorder = Recorder()

        async def silent(ws: ServerConnection) -> None:
            await server.expect_subscribe(ws)
            await ws.send(ack())
            await ws.wait_closed()

        async def talkative(ws: ServerConnection) -> None:
            await server.expect_subscribe(ws)
            await ws.send(ack())
            await ws.send(price_update())
            await ws.wait_closed()

        async with FakeAmberLive(silent, talkative) as server:
            listener = make_listener(server.url, recorder, idle_timeout_s=0.2)
            recorder.on_update = listener.stop
            await listener.run()
        return server, recorder

    server, recorder = run(scenario())

    assert len(server.subscribes) == 2
    assert len(recorder.prices) == 1
    backing_off = [c.detail for c in recorder.states if c.state is LiveState.BACKING_OFF]
    assert backing_off == ["no price update for 0.2 s; retry in 5.0 s"]
    assert server.close_codes[0] == 1000  # we closed the idle socket ourselves


def test_missing_subscription_ack_triggers_reconnect():
    async def scenario() -> Recorder:
        recorder = Recorder()

        async def mute(ws: ServerConnection) -> None:
            await server.expect_subscribe(ws)
            await ws.wait_closed()

        async with FakeAmberLive(mute) as server:
            listener = make_listener(server.url, recorder, ack_timeout_s=0.1)

            async def stop_on_second_sleep(seconds: float) -> None:
                recorder.sleeps.append(seconds)
                if len(recorder.sleeps) == 2:
                    listener.stop()

            listener._sleep = stop_on_second_sleep
            await listener.run()
        return recorder

    recorder = run(scenario())
    assert recorder.sleeps == [5.0, 10.0]  # no update in between: backoff keeps growing
    backing_off = [c.detail for c in recorder.states if c.state is LiveState.BACKING_OFF]
    assert backing_off == [
        "no subscription ack within 0.1 s; retry in 5.0 s",
        "no subscription ack within 0.1 s; retry in 10.0 s",
    ]


def test_403_at_handshake_stops_and_reports_not_enabled():
    async def scenario() -> tuple[LiveState, FakeAmberLive, Recorder, AmberLiveListener]:
        recorder = Recorder()
        async with FakeAmberLive(refuse_status=403) as server:
            listener = make_listener(server.url, recorder)
            state = await listener.run()
        return state, server, recorder, listener

    state, server, recorder, listener = run(scenario())

    assert state is LiveState.NOT_ENABLED
    assert recorder.state_names == [LiveState.CONNECTING, LiveState.NOT_ENABLED]
    assert isinstance(listener.last_error, LiveNotEnabled)
    assert recorder.sleeps == []  # no retry
    assert len(server.auth_headers) == 1


def test_401_at_handshake_stops_with_auth_failed():
    async def scenario() -> tuple[LiveState, AmberLiveListener]:
        async with FakeAmberLive(refuse_status=401) as server:
            listener = make_listener(server.url, Recorder())
            return await listener.run(), listener

    state, listener = run(scenario())
    assert state is LiveState.AUTH_FAILED
    assert isinstance(listener.last_error, AuthFailed)


def test_other_handshake_statuses_are_retried():
    async def scenario() -> Recorder:
        recorder = Recorder()
        async with FakeAmberLive(refuse_status=503) as server:
            listener = make_listener(server.url, recorder)

            async def sleep(seconds: float) -> None:
                recorder.sleeps.append(seconds)
                listener.stop()

            listener._sleep = sleep
            await listener.run()
        return recorder

    recorder = run(scenario())
    assert recorder.sleeps == [5.0]
    assert recorder.states[1].detail == "handshake refused with HTTP 503; retry in 5.0 s"


def test_subscription_rejected_by_the_server_is_terminal():
    async def scenario() -> tuple[LiveState, Recorder]:
        recorder = Recorder()

        async def reject(ws: ServerConnection) -> None:
            await server.expect_subscribe(ws)
            await ws.send(ack(404))
            await ws.wait_closed()

        async with FakeAmberLive(reject) as server:
            state = await make_listener(server.url, recorder).run()
        return state, recorder

    state, recorder = run(scenario())
    assert state is LiveState.REJECTED
    assert recorder.sleeps == []


def test_backoff_grows_to_the_cap_with_jitter_when_unreachable():
    async def scenario(jitter: float) -> list[float]:
        recorder = Recorder()
        listener = AmberLiveListener(
            TOKEN,
            SITE,
            on_prices=recorder.on_prices,
            config=make_config(closed_port_url()),
            random=lambda: jitter,
        )

        async def sleep(seconds: float) -> None:
            recorder.sleeps.append(seconds)
            if len(recorder.sleeps) == 6:
                listener.stop()

        listener._sleep = sleep
        assert await listener.run() is LiveState.STOPPED
        return recorder.sleeps

    assert run(scenario(0.5)) == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    assert run(scenario(0.0)) == pytest.approx([4.0, 8.0, 16.0, 32.0, 48.0, 48.0])
    assert run(scenario(1.0)) == pytest.approx([6.0, 12.0, 24.0, 48.0, 72.0, 72.0])


def test_stop_during_backoff_returns_promptly():
    async def scenario() -> LiveState:
        never = asyncio.Event()

        async def blocking_sleep(seconds: float) -> None:
            await never.wait()

        listener = AmberLiveListener(
            TOKEN,
            SITE,
            on_prices=lambda site, prices: None,
            config=make_config(closed_port_url()),
            sleep=blocking_sleep,
        )
        task = asyncio.create_task(listener.run())
        while listener.state is not LiveState.BACKING_OFF:
            await asyncio.sleep(0.01)
        listener.stop()
        return await task

    assert run(scenario()) is LiveState.STOPPED


def test_stop_before_run_and_twice_is_harmless():
    listener = make_listener("ws://127.0.0.1:9", Recorder())
    listener.stop()
    listener.stop()
    assert run(listener.run()) is LiveState.STOPPED


def test_bad_messages_are_ignored():
    async def scenario() -> Recorder:
        recorder = Recorder()

        async def noisy(ws: ServerConnection) -> None:
            await server.expect_subscribe(ws)
            await ws.send(ack())
            await ws.send("not json")
            await ws.send("[1, 2]")
            await ws.send(json.dumps({"action": "heartbeat"}))
            await ws.send(price_update(site_id="SOMEONE_ELSE"))
            await ws.send(json.dumps({"action": "price-update", "data": {"prices": [{"x": 1}]}}))
            await ws.send(price_update())
            await ws.wait_closed()

        async with FakeAmberLive(noisy) as server:
            listener = make_listener(server.url, recorder)
            recorder.on_update = listener.stop
            await listener.run()
        return recorder

    recorder = run(scenario())
    assert len(recorder.prices) == 1


def test_async_callback_and_callback_failure():
    async def scenario() -> tuple[list[str], AmberLiveListener]:
        seen: list[str] = []

        async def on_prices(site_id: str, intervals: list[PriceInterval]) -> None:
            seen.append(site_id)
            raise RuntimeError("downstream broke")

        async def script(ws: ServerConnection) -> None:
            await ws.recv()
            await ws.send(price_update())
            await ws.wait_closed()

        async with FakeAmberLive(script) as server:
            listener = AmberLiveListener(
                TOKEN, SITE, on_prices=on_prices, config=make_config(server.url)
            )
            with pytest.raises(RuntimeError, match="downstream broke"):
                await listener.run()
        return seen, listener

    seen, listener = run(scenario())
    assert seen == [SITE]
    assert listener.state is LiveState.FAILED


def test_token_never_appears_in_logs(caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        recorder = Recorder()

        async def script(ws: ServerConnection) -> None:
            await server.expect_subscribe(ws)
            await ws.send(ack())
            await ws.send(price_update())
            await ws.close(code=1011)

        async with FakeAmberLive(script) as server:
            listener = make_listener(server.url, recorder)

            async def sleep(seconds: float) -> None:
                listener.stop()

            listener._sleep = sleep
            await listener.run()
        async with FakeAmberLive(refuse_status=403) as refusing:
            refused = make_listener(refusing.url, recorder)
            await refused.run()
            assert TOKEN not in str(refused.last_error)
            assert TOKEN not in repr(refused.last_error)
            assert TOKEN not in repr(refused)
        for change in recorder.states:
            assert TOKEN not in (change.detail or "")

    run(scenario())
    assert "Bearer ***" in caplog.text  # websockets' handshake debug line, masked
    assert TOKEN not in caplog.text


def test_hub_runs_many_listeners_on_one_loop():
    async def scenario() -> tuple[FakeAmberLive, dict[str, int], int]:
        counts: dict[str, int] = {}
        sites = [f"SITE{n:03d}" for n in range(20)]

        async def script(ws: ServerConnection) -> None:
            message = json.loads(await ws.recv())
            site_id = message["data"]["siteId"]
            await ws.send(ack())
            await ws.send(price_update(site_id=site_id))
            await ws.wait_closed()

        def on_prices(site_id: str, intervals: list[PriceInterval]) -> None:
            counts[site_id] = counts.get(site_id, 0) + 1

        async with FakeAmberLive(script) as server:
            hub = AmberLiveHub(on_prices=on_prices, config=make_config(server.url))
            for site in sites:
                hub.add(site, f"{TOKEN}-{site}")
            with pytest.raises(ValueError, match="already"):
                hub.add(sites[0], TOKEN)
            while len(counts) < len(sites):
                await asyncio.sleep(0.01)
            assert set(hub.states().values()) == {LiveState.LIVE}
            hub.remove(sites[0])
            while sites[0] in hub:
                await asyncio.sleep(0.01)
            remaining = len(hub)
            await hub.close()
            assert len(hub) == 0
        return server, counts, remaining

    server, counts, remaining = run(scenario())
    assert counts == {f"SITE{n:03d}": 1 for n in range(20)}
    assert remaining == 19
    assert len(server.auth_headers) == 20


def test_config_validation():
    with pytest.raises(ValueError, match="not a WebSocket URL"):
        LiveConfig(url="https://api-ws.amber.com.au")
    with pytest.raises(ValueError, match="backoff"):
        LiveConfig(backoff_initial_s=0)
    with pytest.raises(ValueError, match="site_id"):
        AmberLiveListener(TOKEN, "", on_prices=lambda s, p: None)
