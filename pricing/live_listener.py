"""The Amber live listener process (``manage.py listen_amber``).

One asyncio loop holds one live-price WebSocket per Amber site (``AmberLiveHub``) for every Amber
site with a token whose owner wants TOU sync or curtailment and is not waiting for
re-authorisation. Around the hub:

- **Reconcile** (every ``reconcile_s``): the set of sites is compared with the database; new sites
  are connected, removed ones closed, a changed token reconnects that site only. Unchanged
  connections are never touched.
- **Price updates** are decided in the loop (memory only, no I/O) and handed to one writer task,
  which stores them in batches (``amber_intervals_store``) and enqueues Celery work from a worker
  thread (``sync_to_async``), so a slow database or broker never stalls the sockets.
- **Fallback**: a site whose socket has been silent for ``silence_s`` or whose account is not
  enabled for live prices (403) is polled over REST at the interval cadence (``poll_offsets_s``
  after each 5-minute interval start) until a price arrives over the socket again. Polls respect
  the token's reported rate budget and leave ``rate_limit_reserve`` calls for the sync tasks that
  share the token.

Relevance rule (``relevant_changes``): an update matters when
  1. ``SETTLED``: its price is settled (``estimate`` false) and we had not yet seen a settled price
     for that interval; or
  2. ``FEED_IN_SIGN``: export earnings changed side of zero (Amber's feed-in ``perKwh`` < 0 means
     the household earns; ≥ 0 means exporting earns nothing or costs: the curtailment trigger); or
  3. ``SPIKE_STATUS``: the spike status (highest over the channels) changed.
An estimate for a new interval with none of these is ignored (Beat's interval-start sync covers
forecasts). Updates for an interval older than the last one seen are ignored. When an update
matters, each of the site's kinds (``curtail`` if curtailment is on, ``sync`` if TOU sync is on) is
enqueued at most once per site and interval (in-memory ledger; the tasks are idempotent anyway).
A failed enqueue releases the claim so the next relevant update retries it.

Tokens live in memory only and are never logged (``LiveSite`` hides it from ``repr``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections, transaction
from django.db.models import Q
from kombu.exceptions import OperationalError as BrokerError

from automations import dispatch
from credentials.keys import CredentialKeyError
from devices.models import Site
from ops.services import heartbeat_record
from pricing.clients import amber_client
from pricing.providers.amber import (
    AmberClient,
    AmberError,
    AmberLiveHub,
    AuthFailed,
    ChannelType,
    IntervalType,
    LiveConfig,
    LiveState,
    LiveStateChange,
    NotFound,
    PriceInterval,
    RateLimited,
    RateLimitStatus,
    SpikeStatus,
)
from pricing.services import amber_intervals_store

logger = logging.getLogger(__name__)

# A queued check older than this is dropped rather than run late (Beat repeats it anyway).
CURTAIL_EXPIRES_S = 120

_SPIKE_RANK = {SpikeStatus.NONE: 0, SpikeStatus.POTENTIAL: 1, SpikeStatus.SPIKE: 2}


# --- what we listen to ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteTarget:
    """One of our sites fed by an Amber site, and which automations it wants."""

    site_id: int
    sync: bool
    curtail: bool


@dataclass(frozen=True, slots=True)
class LiveSite:
    """One live subscription: an Amber site, a token that can see it, and our sites on it."""

    amber_site_id: str
    token: str = field(repr=False)
    targets: tuple[SiteTarget, ...]


def live_sites_load() -> list[LiveSite]:
    """Every Amber site to listen to (sync code: call it from a thread).

    Several of our sites may share one Amber site (one connection serves them all); the token of
    the oldest one is used. Raises ``CredentialKeyError`` when tokens cannot be decrypted.
    """
    rows = (
        Site.objects.filter(
            price_source=Site.PriceSource.AMBER,
            needs_reauthorisation=False,
            credentials__amber_token__isnull=False,
        )
        .filter(Q(tou_sync_enabled=True) | Q(curtailment_enabled=True))
        .exclude(amber_site_id="")
        .order_by("pk")
        .values_list(
            "pk",
            "amber_site_id",
            "tou_sync_enabled",
            "curtailment_enabled",
            "credentials__amber_token",
        )
    )
    tokens: dict[str, str] = {}
    targets: dict[str, list[SiteTarget]] = {}
    for site_id, amber_site_id, sync_on, curtail_on, token in rows.iterator(chunk_size=2000):
        if not token:
            continue
        known = tokens.setdefault(amber_site_id, token)
        if known != token:
            logger.warning(
                "amber live: site %s shares Amber site %s under another token; using the token of "
                "the oldest site for the connection",
                site_id,
                amber_site_id,
            )
        targets.setdefault(amber_site_id, []).append(SiteTarget(site_id, sync_on, curtail_on))
    return [
        LiveSite(amber_site_id=amber_site_id, token=tokens[amber_site_id], targets=tuple(found))
        for amber_site_id, found in targets.items()
    ]


# --- the relevance rule ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceSnapshot:
    """What the relevance rule looks at in one update (CurrentInterval per channel)."""

    interval_end: datetime
    estimate: bool
    feed_in_c_per_kwh: Decimal | None  # Amber's sign: negative = the household earns
    spike_status: SpikeStatus

    @property
    def export_earns(self) -> bool | None:
        if self.feed_in_c_per_kwh is None:
            return None
        return self.feed_in_c_per_kwh < 0


class Change(StrEnum):
    SETTLED = "settled"
    FEED_IN_SIGN = "feed_in_sign"
    SPIKE_STATUS = "spike_status"


def price_snapshot(intervals: Sequence[PriceInterval]) -> PriceSnapshot | None:
    """The current interval of an update (live message or REST ``prices/current``)."""
    current = [i for i in intervals if i.type is IntervalType.CURRENT] or list(intervals)
    if not current:
        return None
    general = next((i for i in current if i.channel_type is ChannelType.GENERAL), current[0])
    feed_in = next((i for i in current if i.channel_type is ChannelType.FEED_IN), None)
    return PriceSnapshot(
        interval_end=general.end_time,
        estimate=any(bool(i.estimate) for i in current),
        feed_in_c_per_kwh=feed_in.price_c_per_kwh if feed_in is not None else None,
        spike_status=max((i.spike_status for i in current), key=lambda s: _SPIKE_RANK.get(s, 0)),
    )


def relevant_changes(previous: PriceSnapshot | None, current: PriceSnapshot) -> frozenset[Change]:
    """Why ``current`` matters after ``previous`` (the module docstring states the rule)."""
    if previous is not None and current.interval_end < previous.interval_end:
        return frozenset()  # a late message for an older interval
    changes: set[Change] = set()
    first_settled = previous is None or (
        previous.interval_end != current.interval_end or previous.estimate
    )
    if not current.estimate and first_settled:
        changes.add(Change.SETTLED)
    if previous is not None:
        before, after = previous.export_earns, current.export_earns
        if before is not None and after is not None and before != after:
            changes.add(Change.FEED_IN_SIGN)
        if previous.spike_status != current.spike_status:
            changes.add(Change.SPIKE_STATUS)
    return frozenset(changes)


class EnqueueLedger:
    """At most one enqueue per (site, kind, interval). Remembers the last interval per key."""

    def __init__(self) -> None:
        self._last: dict[tuple[int, str], datetime] = {}

    def claim(self, site_id: int, kind: str, interval_end: datetime) -> bool:
        key = (site_id, kind)
        last = self._last.get(key)
        if last is not None and interval_end <= last:
            return False
        self._last[key] = interval_end
        return True

    def release(self, site_id: int, kind: str, interval_end: datetime) -> None:
        """Undo a claim whose enqueue failed, so the next relevant update may retry it."""
        if self._last.get((site_id, kind)) == interval_end:
            del self._last[(site_id, kind)]

    def forget(self, site_ids: Iterable[int]) -> None:
        gone = set(site_ids)
        for key in [key for key in self._last if key[0] in gone]:
            del self._last[key]

    def __len__(self) -> int:
        return len(self._last)


# --- the process -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """Tunables of the process; durations in seconds."""

    reconcile_s: float = 60.0
    silence_s: float = 360.0  # no price over the socket for this long -> poll REST
    health_check_s: float = 10.0
    interval_s: int = 300
    poll_offsets_s: tuple[float, ...] = (35.0, 60.0)  # after each interval start; () = never
    poll_concurrency: int = 8
    rate_limit_reserve: int = 10  # calls left to the sync tasks sharing the token
    terminal_retry_s: float = 3600.0  # retry the socket of a 401/403/refused site
    failed_retry_s: float = 60.0  # re-add a listener whose callback failed
    connect_batch: int = 200  # connections opened before pausing (no thundering herd)
    connect_batch_pause_s: float = 1.0
    write_batch: int = 500

    @classmethod
    def from_settings(cls) -> ListenerConfig:
        return cls(
            reconcile_s=float(settings.AMBER_LIVE_RECONCILE_SECONDS),
            silence_s=float(settings.AMBER_LIVE_SILENCE_SECONDS),
        )


@dataclass(frozen=True, slots=True)
class _Send:
    site_id: int
    kind: str  # "curtail" or "sync"
    interval_end: datetime
    feed_in_c_per_kwh: Decimal | None


@dataclass(frozen=True, slots=True)
class _Work:
    amber_site_id: str
    intervals: tuple[PriceInterval, ...]
    received_at: datetime
    sends: tuple[_Send, ...]


@dataclass(slots=True)
class _Tracked:
    site: LiveSite
    connected_since: float  # monotonic; start of the current silence window
    state: LiveState = LiveState.IDLE
    last_socket_price: float | None = None  # monotonic
    polling: str | None = None  # why we poll REST; None = the socket is healthy
    socket_retry_at: float | None = None  # monotonic; re-add a listener that ended
    snapshot: PriceSnapshot | None = None
    rate_limit: RateLimitStatus | None = None  # the token's budget seen by our last poll
    poll_blocked_until: datetime | None = None
    last_poll_estimate: bool = False


@dataclass(frozen=True, slots=True)
class ListenerStatus:
    sites: int
    live: int
    connecting: int
    backing_off: int
    polling: int
    not_enabled: int
    auth_failed: int
    updates: int
    enqueued: dict[str, int]

    def line(self) -> str:
        return (
            f"amber live: sites={self.sites} live={self.live} connecting={self.connecting} "
            f"backing_off={self.backing_off} polling={self.polling} "
            f"not_enabled={self.not_enabled} auth_failed={self.auth_failed} "
            f"updates={self.updates} enqueued_sync={self.enqueued.get('sync', 0)} "
            f"enqueued_curtail={self.enqueued.get('curtail', 0)}"
        )


PricesHook = Callable[[str, list[PriceInterval]], Awaitable[None] | None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AmberLiveProcess:
    """Everything ``listen_amber`` runs, on the current event loop.

    Args:
        load_sites: async, returns the sites to listen to (default: ``live_sites_load``, threaded).
        live_config: the WebSocket client's settings (default: ``AMBER_WS_URL``).
        config: ``ListenerConfig``.
        on_prices: replaces storing and enqueueing entirely (benchmarks of the connection layer).
        client_factory: token -> ``AmberClient`` for REST polls (default ``amber_client``).
        clock: aware UTC now.
    """

    def __init__(
        self,
        *,
        load_sites: Callable[[], Awaitable[list[LiveSite]]] | None = None,
        live_config: LiveConfig | None = None,
        config: ListenerConfig | None = None,
        on_prices: PricesHook | None = None,
        client_factory: Callable[[str], AmberClient] = amber_client,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._load_sites = load_sites or sync_to_async(live_sites_load, thread_sensitive=True)
        # Liveness for /healthz and the container health check, after each successful reconcile
        # (the database is reachable and the loop turns). Injected site lists record nothing.
        self._alive: Callable[[], Awaitable[None]] | None = (
            None if load_sites else sync_to_async(_heartbeat_record, thread_sensitive=True)
        )
        self.live_config = live_config or LiveConfig(url=settings.AMBER_WS_URL)
        self.config = config or ListenerConfig()
        self._hook = on_prices
        self._client_factory = client_factory
        self._clock = clock
        self._tracked: dict[str, _Tracked] = {}
        self._ledger = EnqueueLedger()
        self._work: asyncio.Queue[_Work] = asyncio.Queue(maxsize=20_000)
        self._persist = sync_to_async(_persist_batch, thread_sensitive=True)
        self._pool = ThreadPoolExecutor(
            max_workers=self.config.poll_concurrency, thread_name_prefix="amber-poll"
        )
        self._hub: AmberLiveHub | None = None
        self._reconciling = asyncio.Lock()
        self.updates = 0
        self.enqueued: Counter[str] = Counter()

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def hub(self) -> AmberLiveHub:
        if self._hub is None:
            self._hub = AmberLiveHub(
                on_prices=self._on_socket_prices, on_state=self._on_state, config=self.live_config
            )
        return self._hub

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set, then close every socket and flush pending writes."""
        loops = [
            asyncio.create_task(
                self._every(self.config.reconcile_s, self.reconcile), name="amber-reconcile"
            ),
            asyncio.create_task(
                self._every(self.config.health_check_s, self.check_health), name="amber-health"
            ),
            asyncio.create_task(self._writer(), name="amber-writer"),
        ]
        if self.config.poll_offsets_s:
            loops.append(asyncio.create_task(self._poll_loop(), name="amber-poll"))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopper, *loops], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            await self.close(loops)
        for task in loops:
            if task.done() and not task.cancelled() and task.exception() is not None:
                # A loop died: exit non-zero and let the supervisor restart the process.
                raise RuntimeError(f"amber live: {task.get_name()} failed") from task.exception()

    async def close(self, loops: Sequence[asyncio.Task[None]] = ()) -> None:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await self.hub.close()
        await self.flush()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._hook is None:
            await sync_to_async(connections.close_all, thread_sensitive=True)()
        logger.info("amber live: stopped, all sockets closed")

    async def _every(self, period_s: float, action: Callable[[], Awaitable[object]]) -> None:
        while True:
            await action()
            await asyncio.sleep(period_s)

    # --- reconcile ------------------------------------------------------------------------

    async def reconcile(self) -> tuple[int, int, int]:
        """Bring the connections in line with the database. Returns (added, removed, replaced)."""
        async with self._reconciling:  # one at a time: each awaits between its checks and acts
            return await self._reconcile()

    async def _reconcile(self) -> tuple[int, int, int]:
        try:
            wanted = {site.amber_site_id: site for site in await self._load_sites()}
            if self._alive is not None:
                await self._alive()
        except (DatabaseError, CredentialKeyError) as exc:
            logger.error("amber live: cannot load sites (%s); keeping the current set", exc)
            return (0, 0, 0)
        hub = self.hub
        removed = [key for key in self._tracked if key not in wanted]
        for key in removed:
            await hub.discard(key)
            gone = self._tracked.pop(key)
            self._ledger.forget(target.site_id for target in gone.site.targets)
        replaced = 0
        added: list[str] = []
        for key, site in wanted.items():
            tracked = self._tracked.get(key)
            if tracked is None:
                self._tracked[key] = _Tracked(site=site, connected_since=time.monotonic())
                added.append(key)
            elif tracked.site.token != site.token:
                await hub.discard(key)
                self._tracked[key] = _Tracked(site=site, connected_since=time.monotonic())
                self._ledger.forget(target.site_id for target in tracked.site.targets)
                added.append(key)
                replaced += 1
            elif tracked.site.targets != site.targets:
                kept = {target.site_id for target in site.targets}
                self._ledger.forget(
                    t.site_id for t in tracked.site.targets if t.site_id not in kept
                )
                tracked.site = site
        for count, key in enumerate(added, start=1):
            self._connect(key)
            if count % self.config.connect_batch == 0 and count < len(added):
                await asyncio.sleep(self.config.connect_batch_pause_s)
        if removed or added:
            logger.info(
                "amber live: reconciled: %d added, %d removed, %d token changes, %d sites",
                len(added) - replaced,
                len(removed),
                replaced,
                len(self._tracked),
            )
        return (len(added) - replaced, len(removed), replaced)

    def _connect(self, key: str) -> None:
        tracked = self._tracked[key]
        tracked.connected_since = time.monotonic()
        tracked.socket_retry_at = None
        if key not in self.hub:
            self.hub.add(key, tracked.site.token)

    # --- socket events ----------------------------------------------------------------------

    async def _on_state(self, change: LiveStateChange) -> None:
        tracked = self._tracked.get(change.site_id)
        if tracked is None:
            return
        previous, tracked.state = tracked.state, change.state
        if change.state in (LiveState.CONNECTING, LiveState.SUBSCRIBING):
            return  # every (re)connect passes through these; BACKING_OFF and LIVE are logged
        if change.state is not previous:
            logger.info(
                "amber live site=%s: %s%s",
                change.site_id,
                change.state.value,
                f" ({change.detail})" if change.detail else "",
            )
        now = time.monotonic()
        if change.state in (LiveState.NOT_ENABLED, LiveState.REJECTED):
            self._start_polling(tracked, f"live socket {change.state.value}")
            tracked.socket_retry_at = now + self.config.terminal_retry_s
        elif change.state is LiveState.AUTH_FAILED:
            # REST would refuse the token too; try again later or when the token changes.
            tracked.socket_retry_at = now + self.config.terminal_retry_s

    async def _on_socket_prices(self, amber_site_id: str, intervals: list[PriceInterval]) -> None:
        tracked = self._tracked.get(amber_site_id)
        if tracked is not None:
            tracked.last_socket_price = time.monotonic()
            if tracked.polling is not None:
                logger.info(
                    "amber live site=%s: socket healthy again, REST polling stops", amber_site_id
                )
                tracked.polling = None
        await self.handle_prices(amber_site_id, intervals)

    async def handle_prices(self, amber_site_id: str, intervals: Sequence[PriceInterval]) -> None:
        """Decide (in the loop, no I/O) and queue storing + enqueueing for the writer."""
        self.updates += 1
        if self._hook is not None:
            result = self._hook(amber_site_id, list(intervals))
            if result is not None:
                await result
            return
        tracked = self._tracked.get(amber_site_id)
        snapshot = price_snapshot(intervals)
        sends: list[_Send] = []
        if tracked is not None and snapshot is not None:
            changes = relevant_changes(tracked.snapshot, snapshot)
            if tracked.snapshot is None or snapshot.interval_end >= tracked.snapshot.interval_end:
                tracked.snapshot = snapshot
            if changes:
                sends = self._claim_sends(tracked.site, snapshot)
                logger.debug(
                    "amber live site=%s: %s -> %d task(s)",
                    amber_site_id,
                    ",".join(sorted(changes)),
                    len(sends),
                )
        work = _Work(amber_site_id, tuple(intervals), self._clock(), tuple(sends))
        await self._work.put(work)

    def _claim_sends(self, site: LiveSite, snapshot: PriceSnapshot) -> list[_Send]:
        sends = []
        end = snapshot.interval_end
        for target in site.targets:
            wanted = []
            if target.curtail and snapshot.feed_in_c_per_kwh is not None:
                wanted.append("curtail")
            if target.sync:
                wanted.append("sync")
            for kind in wanted:
                if self._ledger.claim(target.site_id, kind, end):
                    sends.append(_Send(target.site_id, kind, end, snapshot.feed_in_c_per_kwh))
        return sends

    # --- writer -----------------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            batch = [await self._work.get()]
            while len(batch) < self.config.write_batch and not self._work.empty():
                batch.append(self._work.get_nowait())
            await self._write(batch)

    async def flush(self) -> None:
        """Write whatever is still queued (used on stop and by tests)."""
        while not self._work.empty():
            batch: list[_Work] = []
            while len(batch) < self.config.write_batch and not self._work.empty():
                batch.append(self._work.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[_Work]) -> None:
        failed = await self._persist(batch)
        for send in failed:
            self._ledger.release(send.site_id, send.kind, send.interval_end)
        for work in batch:
            for send in work.sends:
                if send not in failed:
                    self.enqueued[send.kind] += 1

    # --- silence and REST fallback ---------------------------------------------------------

    async def check_health(self) -> None:
        """Silent sockets start REST polling; ended listeners are re-added when due."""
        now = time.monotonic()
        hub = self.hub
        for key, tracked in self._tracked.items():
            if key not in hub:
                if tracked.socket_retry_at is None:
                    # Ended without a terminal state of its own (a callback raised: FAILED).
                    tracked.socket_retry_at = now + self.config.failed_retry_s
                elif now >= tracked.socket_retry_at:
                    logger.info("amber live site=%s: trying the live socket again", key)
                    self._connect(key)
                continue
            heard = max(tracked.connected_since, tracked.last_socket_price or 0.0)
            if tracked.polling is None and now - heard > self.config.silence_s:
                self._start_polling(tracked, f"socket silent for {now - heard:.0f} s")

    def _start_polling(self, tracked: _Tracked, reason: str) -> None:
        if tracked.polling is None:
            logger.warning(
                "amber live site=%s: %s; polling REST until the socket is healthy",
                tracked.site.amber_site_id,
                reason,
            )
        tracked.polling = reason

    def polling_sites(self) -> list[str]:
        return [key for key, tracked in self._tracked.items() if tracked.polling is not None]

    async def _poll_loop(self) -> None:
        while True:
            delay_s, first = self._next_poll()
            await asyncio.sleep(delay_s)
            await self.poll_now(only_estimates=not first)

    def _next_poll(self) -> tuple[float, bool]:
        """Seconds until the next poll moment, and whether it is the interval's first one."""
        now = self._clock()
        interval = timedelta(seconds=self.config.interval_s)
        start = datetime.fromtimestamp(
            now.timestamp() // self.config.interval_s * self.config.interval_s, UTC
        )
        for base in (start, start + interval):
            for index, offset in enumerate(self.config.poll_offsets_s):
                moment = base + timedelta(seconds=offset)
                if moment > now:
                    return (moment - now).total_seconds(), index == 0
        return self.config.interval_s, True  # unreachable with offsets below interval_s

    async def poll_now(self, *, only_estimates: bool = False) -> int:
        """Poll REST for every polling site (or those whose last poll was still an estimate).

        Returns the number of sites whose prices were fetched."""
        loop = asyncio.get_running_loop()
        due = [
            tracked
            for tracked in self._tracked.values()
            if tracked.polling is not None and (tracked.last_poll_estimate or not only_estimates)
        ]
        results = await asyncio.gather(
            *(loop.run_in_executor(self._pool, self._poll_one, tracked) for tracked in due)
        )
        fetched = 0
        for tracked, intervals in zip(due, results, strict=True):
            if intervals is None or tracked.polling is None:
                continue
            fetched += 1
            snapshot = price_snapshot(intervals)
            tracked.last_poll_estimate = snapshot is not None and snapshot.estimate
            await self.handle_prices(tracked.site.amber_site_id, intervals)
        return fetched

    def _poll_one(self, tracked: _Tracked) -> list[PriceInterval] | None:
        """One REST call (worker thread). None when skipped or failed."""
        key = tracked.site.amber_site_id
        now = self._clock()
        if tracked.poll_blocked_until is not None and now < tracked.poll_blocked_until:
            return None
        budget = tracked.rate_limit
        if (
            budget is not None
            and budget.remaining is not None
            and budget.remaining <= self.config.rate_limit_reserve
            and budget.seconds_until_reset(now) > 0
        ):
            logger.info(
                "amber live site=%s: %d REST calls left in the window; poll skipped",
                key,
                budget.remaining,
            )
            return None
        # A client per call: the HTTP session is per thread (ops.http) and polls hop threads.
        client = self._client_factory(tracked.site.token)
        try:
            return client.get_current_prices(key)
        except RateLimited as exc:
            wait_s = exc.retry_after or self.config.interval_s
            tracked.poll_blocked_until = now + timedelta(seconds=wait_s)
            logger.warning("amber live site=%s: REST rate limited for %.0f s", key, wait_s)
        except (AuthFailed, NotFound) as exc:
            logger.warning("amber live site=%s: REST poll refused: %s", key, exc.message)
        except AmberError as exc:  # the provider's whole tree: Unavailable, InvalidResponse, …
            logger.warning("amber live site=%s: REST poll failed: %s", key, exc.message)
        finally:
            tracked.rate_limit = client.rate_limit or tracked.rate_limit
        return None

    # --- status -----------------------------------------------------------------------------

    def status(self) -> ListenerStatus:
        states = Counter(tracked.state for tracked in self._tracked.values())
        return ListenerStatus(
            sites=len(self._tracked),
            live=states[LiveState.LIVE],
            connecting=states[LiveState.CONNECTING] + states[LiveState.SUBSCRIBING],
            backing_off=states[LiveState.BACKING_OFF],
            polling=len(self.polling_sites()),
            not_enabled=states[LiveState.NOT_ENABLED],
            auth_failed=states[LiveState.AUTH_FAILED],
            updates=self.updates,
            enqueued=dict(self.enqueued),
        )


def _heartbeat_record() -> None:
    heartbeat_record(role="listener", hostname=socket.gethostname())


def _persist_batch(batch: Sequence[_Work]) -> list[_Send]:
    """Store a batch of updates, then enqueue their tasks (worker thread). Returns failed sends.

    The tasks do not read the stored rows (curtailment gets the price in its arguments, a sync
    fetches its own prices), so they are enqueued even when storing failed."""
    close_old_connections()
    try:
        with transaction.atomic():
            for work in batch:
                amber_intervals_store(
                    amber_site_id=work.amber_site_id,
                    intervals=work.intervals,
                    fetched_at=work.received_at,
                )
    except DatabaseError as exc:
        logger.error("amber live: storing %d price updates failed: %s", len(batch), exc)
    failed = []
    for work in batch:
        for send in work.sends:
            try:
                _enqueue(send)
            except BrokerError as exc:
                logger.error(
                    "amber live site=%s: enqueueing %s failed: %s", send.site_id, send.kind, exc
                )
                failed.append(send)
    close_old_connections()
    return failed


def _enqueue(send: _Send) -> None:
    if send.kind == "curtail":
        assert send.feed_in_c_per_kwh is not None
        dispatch.curtailment_check(
            send.site_id,
            feed_in_c_per_kwh=float(send.feed_in_c_per_kwh),
            interval_end=send.interval_end,
            expires=CURTAIL_EXPIRES_S,
        )
    else:
        dispatch.sync(send.site_id, reason="settled")
