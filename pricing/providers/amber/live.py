"""Amber live-price WebSocket listener (alpha API, not in the OpenAPI spec).

Protocol (observed in community clients; see shared/reference/external_apis.md §1.5):

- Connect to ``wss://api-ws.amber.com.au`` with the handshake header
  ``authorization: Bearer <API token>``. HTTP 403 at the handshake means the account is not
  enabled for live prices: we stop (state ``NOT_ENABLED``) so the caller falls back to REST.
- Send ``{"service": "live-prices", "action": "subscribe", "data": {"siteId": ...}}``; the server
  acks with ``{"action": "subscribe", "status": 200, ...}``.
- The server pushes ``{"action": "price-update", "data": {"siteId": ..., "prices": [...]}}``
  where each price is a CurrentInterval (one per channel). They are parsed with the REST parser
  and handed to ``on_prices(site_id, intervals)``.

Why asyncio: the automations layer must hold thousands of these connections (one per Amber
site) in one process. A thread per connection (``websocket-client``'s model) costs a stack and a
scheduler slot each and does not scale to thousands; with ``websockets``' asyncio client every
connection is a couple of small tasks on one event loop and mostly idle sockets. ``AmberLiveHub``
runs many listeners on the loop it is created in.

Resilience: reconnect with exponential backoff and jitter (about 5 s doubling to 60 s, ±20 %);
the backoff resets once a price update arrives. WebSocket pings every 30 s detect dead TCP
connections; no price update for ``idle_timeout_s`` (default 360 s) also forces a reconnect
(Amber sends one per 5-minute interval, sometimes up to 45 s late). ``stop()`` ends the listener
cleanly from any phase. Sleep, random and clock are injectable so tests run fast and
deterministically.

Security: the token is only placed in the handshake header. ``websockets`` logs handshake headers
at DEBUG level, so its logger gets a filter that masks ``Bearer`` credentials.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random as _random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.uri import parse_uri

from .errors import AmberError, AuthFailed, BadRequest, InvalidResponse, LiveNotEnabled
from .models import PriceInterval, parse_price_intervals

logger = logging.getLogger(__name__)

DEFAULT_LIVE_URL = "wss://api-ws.amber.com.au"
SERVICE = "live-prices"

_T = TypeVar("_T")


class LiveState(StrEnum):
    IDLE = "idle"  # created, run() not started
    CONNECTING = "connecting"
    SUBSCRIBING = "subscribing"
    LIVE = "live"  # subscription acknowledged or prices flowing
    BACKING_OFF = "backing_off"  # waiting before the next reconnect
    NOT_ENABLED = "not_enabled"  # terminal: 403 at handshake -> use REST polling
    AUTH_FAILED = "auth_failed"  # terminal: 401 at handshake (token invalid)
    REJECTED = "rejected"  # terminal: the subscription was refused (4xx status)
    STOPPED = "stopped"  # terminal: stop() was called
    FAILED = "failed"  # terminal: a callback raised; run() re-raised it


TERMINAL_STATES = frozenset(
    {
        LiveState.NOT_ENABLED,
        LiveState.AUTH_FAILED,
        LiveState.REJECTED,
        LiveState.STOPPED,
        LiveState.FAILED,
    }
)


@dataclass(frozen=True, slots=True)
class LiveStateChange:
    """Reported to ``on_state`` on every transition. ``detail`` never contains the token."""

    site_id: str
    state: LiveState
    detail: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """Tunables of the listener; all durations in seconds."""

    url: str = DEFAULT_LIVE_URL
    idle_timeout_s: float = 360.0  # no price update for this long -> reconnect
    ack_timeout_s: float = 15.0  # subscribe sent, no ack/update for this long -> reconnect
    heartbeat_interval_s: float | None = 30.0  # WebSocket ping interval
    heartbeat_timeout_s: float | None = 20.0  # pong not received -> connection closed
    open_timeout_s: float = 10.0  # TCP + TLS + HTTP upgrade
    close_timeout_s: float = 5.0
    backoff_initial_s: float = 5.0
    backoff_max_s: float = 60.0
    backoff_jitter: float = 0.2  # each delay is scaled by a random factor in [1-j, 1+j]
    max_message_bytes: int = 256 * 1024
    # ``True`` = system proxy settings (websockets' default), ``None`` = direct, or a proxy URL.
    proxy: str | Literal[True] | None = True

    def __post_init__(self) -> None:
        try:
            parse_uri(self.url)
        except InvalidURI:
            raise ValueError(f"not a WebSocket URL: {self.url!r}") from None
        if self.idle_timeout_s <= 0 or self.ack_timeout_s <= 0 or self.open_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if not 0 < self.backoff_initial_s <= self.backoff_max_s:
            raise ValueError("need 0 < backoff_initial_s <= backoff_max_s")
        if not 0 <= self.backoff_jitter < 1:
            raise ValueError("backoff_jitter must be in [0, 1)")


PriceCallback = Callable[[str, list[PriceInterval]], Awaitable[None] | None]
StateCallback = Callable[[LiveStateChange], Awaitable[None] | None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one connection attempt ended."""

    reason: str
    got_update: bool = False
    terminal: bool = False


class _RedactBearer(logging.Filter):
    """Masks ``Bearer <credential>`` in records (websockets logs handshake headers at DEBUG)."""

    _pattern = re.compile(r"(?i)(bearer)\s+\S+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "bearer" in message.lower():
            record.msg = self._pattern.sub(r"\1 ***", message)
            record.args = ()
        return True


_WIRE_LOGGER = logging.getLogger(f"{__name__}.wire")
_WIRE_LOGGER.addFilter(_RedactBearer())


class AmberLiveListener:
    """One live-price WebSocket connection for one Amber site.

    Args:
        token: the Amber API token of the site's account.
        site_id: the Amber site to subscribe to.
        on_prices: called with ``(site_id, intervals)`` for every price update (sync or async).
            Prices are c/kWh incl. GST; feed-in negative = household earns. If it raises,
            the listener ends in ``FAILED`` and ``run()`` re-raises the exception.
        on_state: optional, called with a ``LiveStateChange`` on every transition.
        config: ``LiveConfig``.
        sleep: ``async (seconds) -> None`` used for backoff waits (tests inject a fake).
        random: ``() -> float`` in [0, 1) for jitter.
        clock: aware UTC now, for ``last_price_at`` and state timestamps.

    ``run()`` returns the terminal ``LiveState``. Call ``stop()`` from the event loop's thread
    (from another thread: ``loop.call_soon_threadsafe(listener.stop)``).
    """

    def __init__(
        self,
        token: str,
        site_id: str,
        *,
        on_prices: PriceCallback,
        on_state: StateCallback | None = None,
        config: LiveConfig | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValueError("an Amber API token is required")
        if not isinstance(site_id, str) or not site_id.strip():
            raise ValueError("site_id is required")
        self._token = token
        self.site_id = site_id
        self._on_prices = on_prices
        self._on_state = on_state
        self.config = config if config is not None else LiveConfig()
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._state = LiveState.IDLE
        self._stop_event: asyncio.Event | None = None
        self._stop_requested = False
        self._running = False
        self.last_error: AmberError | None = None
        self.last_price_at: datetime | None = None
        self.connect_attempts = 0
        self.updates_received = 0

    def __repr__(self) -> str:
        return f"AmberLiveListener(site_id={self.site_id!r}, state={self._state.value!r})"

    @property
    def state(self) -> LiveState:
        return self._state

    def stop(self) -> None:
        """Ask the listener to close its connection and return from ``run()``. Idempotent."""
        self._stop_requested = True
        if self._stop_event is not None:
            self._stop_event.set()

    def backoff_delay_s(self, attempt: int) -> float:
        """Delay before reconnect number ``attempt`` (0-based): ``initial * 2**attempt`` capped
        at ``backoff_max_s``, scaled by a random factor in [1 - jitter, 1 + jitter]."""
        cfg = self.config
        base = min(cfg.backoff_max_s, cfg.backoff_initial_s * 2 ** min(attempt, 30))
        return base * (1 + cfg.backoff_jitter * (2 * self._random() - 1))

    async def run(self) -> LiveState:
        """Connect, subscribe and deliver updates until stopped or a terminal condition."""
        if self._running:
            raise RuntimeError("this listener is already running")
        self._running = True
        self._stop_event = asyncio.Event()
        if self._stop_requested:
            self._stop_event.set()
        attempt = 0
        try:
            while not self._stop_requested:
                outcome = await self._unless_stopped(self._connect_once())
                if outcome is None or self._stop_requested:
                    break
                if outcome.terminal:
                    return self._state
                if outcome.got_update:
                    attempt = 0
                delay_s = self.backoff_delay_s(attempt)
                attempt += 1
                logger.info(
                    "amber live site=%s: %s; reconnecting in %.1f s",
                    self.site_id,
                    outcome.reason,
                    delay_s,
                )
                await self._set_state(
                    LiveState.BACKING_OFF, f"{outcome.reason}; retry in {delay_s:.1f} s"
                )
                await self._unless_stopped(self._sleep(delay_s))
            await self._set_state(LiveState.STOPPED, "stop requested")
            return self._state
        finally:
            self._running = False
            if self._state not in TERMINAL_STATES:
                # Only reachable when a callback raised or run() was cancelled.
                self._state = LiveState.FAILED

    # --- one connection ---------------------------------------------------------------------

    async def _connect_once(self) -> _Outcome:
        cfg = self.config
        self.connect_attempts += 1
        await self._set_state(LiveState.CONNECTING, cfg.url)
        try:
            websocket = await connect(
                cfg.url,
                additional_headers={"authorization": f"Bearer {self._token}"},
                open_timeout=cfg.open_timeout_s,
                ping_interval=cfg.heartbeat_interval_s,
                ping_timeout=cfg.heartbeat_timeout_s,
                close_timeout=cfg.close_timeout_s,
                max_size=cfg.max_message_bytes,
                # Per-message deflate keeps zlib state per connection (tens of KiB each); price
                # messages are small, so we skip it to keep thousands of connections cheap.
                compression=None,
                proxy=cfg.proxy,
                logger=_WIRE_LOGGER,
            )
        except InvalidStatus as exc:
            return await self._handshake_refused(exc.response.status_code)
        except InvalidHandshake as exc:
            return _Outcome(f"handshake failed: {type(exc).__name__}")
        except OSError as exc:  # includes TimeoutError (open_timeout) and refused connections
            return _Outcome(f"connection failed: {type(exc).__name__}: {exc}")
        try:
            return await self._converse(websocket)
        finally:
            # Also runs when stop() cancels us: close the socket before leaving.
            await websocket.close()

    async def _handshake_refused(self, status: int) -> _Outcome:
        if status == 403:
            self.last_error = LiveNotEnabled(
                "Amber live prices are not enabled for this account (HTTP 403 at handshake)",
                status_code=status,
            )
            await self._set_state(LiveState.NOT_ENABLED, self.last_error.message)
            return _Outcome(self.last_error.message, terminal=True)
        if status == 401:
            self.last_error = AuthFailed(
                "Amber rejected the token at the live-price handshake (HTTP 401)",
                status_code=status,
            )
            await self._set_state(LiveState.AUTH_FAILED, self.last_error.message)
            return _Outcome(self.last_error.message, terminal=True)
        return _Outcome(f"handshake refused with HTTP {status}")

    async def _converse(self, websocket: ClientConnection) -> _Outcome:
        """Subscribe, then deliver updates until the socket closes or goes quiet.

        Only ``send``/``recv`` are guarded: exceptions raised by the callbacks propagate."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        await self._set_state(LiveState.SUBSCRIBING, None)
        subscribe = {"service": SERVICE, "action": "subscribe", "data": {"siteId": self.site_id}}
        got_update = False
        live = False
        deadline = loop.time() + cfg.ack_timeout_s
        try:
            await websocket.send(json.dumps(subscribe))
        except ConnectionClosed as exc:
            return _Outcome(f"connection closed while subscribing ({_close_detail(exc)})")
        while True:
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    raw = await websocket.recv()
            except TimeoutError:
                if not live:
                    return _Outcome(f"no subscription ack within {cfg.ack_timeout_s:g} s")
                return _Outcome(
                    f"no price update for {cfg.idle_timeout_s:g} s", got_update=got_update
                )
            except ConnectionClosed as exc:
                return _Outcome(f"connection closed ({_close_detail(exc)})", got_update=got_update)
            message = self._decode(raw)
            if message is None:
                continue
            action = message.get("action")
            if action == "subscribe":
                status = message.get("status")
                if status == 200:
                    live = True
                    deadline = loop.time() + cfg.idle_timeout_s
                    await self._set_state(LiveState.LIVE, "subscribed")
                elif isinstance(status, int) and 400 <= status < 500:
                    self.last_error = BadRequest(
                        f"Amber refused the live-price subscription (status {status})",
                        status_code=status,
                    )
                    await self._set_state(LiveState.REJECTED, self.last_error.message)
                    return _Outcome(self.last_error.message, terminal=True)
                else:
                    return _Outcome(f"subscription failed with status {status!r}")
            elif action == "price-update":
                intervals = self._parse_update(message)
                if intervals is None:
                    continue
                got_update = True
                deadline = loop.time() + cfg.idle_timeout_s
                self.updates_received += 1
                self.last_price_at = self._clock()
                if not live:
                    live = True
                    await self._set_state(LiveState.LIVE, "prices flowing")
                await _maybe_await(self._on_prices(self.site_id, intervals))
            else:
                logger.debug("amber live site=%s: ignoring action %r", self.site_id, action)

    def _decode(self, raw: str | bytes) -> dict[str, Any] | None:
        try:
            message = json.loads(raw, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            logger.warning(
                "amber live site=%s: undecodable message (%d bytes)", self.site_id, len(raw)
            )
            return None
        if not isinstance(message, dict):
            logger.warning("amber live site=%s: message is not a JSON object", self.site_id)
            return None
        return message

    def _parse_update(self, message: dict[str, Any]) -> list[PriceInterval] | None:
        data = message.get("data")
        if not isinstance(data, dict):
            logger.warning("amber live site=%s: price-update without data", self.site_id)
            return None
        site_id = data.get("siteId")
        if site_id is not None and site_id != self.site_id:
            logger.warning(
                "amber live site=%s: ignoring update for another site %r", self.site_id, site_id
            )
            return None
        try:
            return parse_price_intervals(data.get("prices"))
        except InvalidResponse as exc:
            logger.warning("amber live site=%s: bad price-update: %s", self.site_id, exc.message)
            return None

    # --- helpers ----------------------------------------------------------------------------

    async def _unless_stopped(self, coro: Awaitable[_T]) -> _T | None:
        """Run ``coro`` until it finishes or ``stop()`` is called (then cancel it: the
        ``async with connect`` block closes the socket). Returns None when stopped first."""
        assert self._stop_event is not None
        task = asyncio.ensure_future(coro)
        stopper = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        if task.cancelled():
            return None
        return task.result()  # re-raises a callback's exception

    async def _set_state(self, state: LiveState, detail: str | None) -> None:
        self._state = state
        if self._on_state is not None:
            change = LiveStateChange(
                site_id=self.site_id, state=state, detail=detail, at=self._clock()
            )
            await _maybe_await(self._on_state(change))


class AmberLiveHub:
    """Many ``AmberLiveListener`` tasks on one event loop (create and use it inside the loop).

    ``add()`` starts a listener for a site, ``remove()`` stops one, ``close()`` stops all and
    waits for them. A listener that ends (terminal state) leaves the hub; ``on_state`` tells the
    caller, which can fall back to REST polling or re-add it later.
    """

    def __init__(
        self,
        *,
        on_prices: PriceCallback,
        on_state: StateCallback | None = None,
        config: LiveConfig | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._on_prices = on_prices
        self._on_state = on_state
        self._config = config if config is not None else LiveConfig()
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._listeners: dict[str, tuple[AmberLiveListener, asyncio.Task[LiveState]]] = {}

    def __len__(self) -> int:
        return len(self._listeners)

    def __contains__(self, site_id: object) -> bool:
        return site_id in self._listeners

    def listener(self, site_id: str) -> AmberLiveListener | None:
        """The site's running listener, if any (for its counters and state)."""
        entry = self._listeners.get(site_id)
        return entry[0] if entry is not None else None

    def states(self) -> dict[str, LiveState]:
        return {site_id: listener.state for site_id, (listener, _) in self._listeners.items()}

    def add(self, site_id: str, token: str) -> AmberLiveListener:
        """Start listening for ``site_id``. Raises ``ValueError`` if it is already listened to."""
        if site_id in self._listeners:
            raise ValueError(f"site {site_id!r} already has a live listener")
        listener = AmberLiveListener(
            token,
            site_id,
            on_prices=self._on_prices,
            on_state=self._on_state,
            config=self._config,
            sleep=self._sleep,
            random=self._random,
            clock=self._clock,
        )
        task = asyncio.get_running_loop().create_task(listener.run(), name=f"amber-live-{site_id}")
        self._listeners[site_id] = (listener, task)
        task.add_done_callback(lambda done: self._finished(site_id, done))
        return listener

    def remove(self, site_id: str) -> None:
        """Stop the site's listener (no-op if there is none); it leaves the hub when done."""
        entry = self._listeners.get(site_id)
        if entry is not None:
            entry[0].stop()

    async def discard(self, site_id: str) -> None:
        """Stop the site's listener and wait until it has left the hub (no-op if none), so the
        site can be added again at once (e.g. with a new token)."""
        entry = self._listeners.get(site_id)
        if entry is None:
            return
        listener, task = entry
        listener.stop()
        await asyncio.wait({task})
        if self._listeners.get(site_id) is entry:
            del self._listeners[site_id]

    async def close(self) -> None:
        """Stop every listener and wait until all have ended."""
        tasks = []
        for listener, task in list(self._listeners.values()):
            listener.stop()
            tasks.append(task)
        if tasks:
            await asyncio.wait(tasks)

    def _finished(self, site_id: str, task: asyncio.Task[LiveState]) -> None:
        entry = self._listeners.get(site_id)
        if entry is not None and entry[1] is task:
            del self._listeners[site_id]
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.error("amber live site=%s: listener failed", site_id, exc_info=error)


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result


def _close_detail(exc: ConnectionClosed) -> str:
    frame = exc.rcvd or exc.sent
    if frame is None:
        return "no close frame"
    return f"code {frame.code}"
