"""Application assembly, the fault/latency middleware and the ways to run the simulator.

- ``build_app(Simulator(Config(...)))``: the aiohttp application.
- ``async with run_simulator(port=0, households=3) as running``: serves on loopback, gives
  ``running.base_urls`` and ``running.sim``.
- ``SimulatorThread(households=3).start()``: the same in a background thread for sync tests;
  ``.base_urls``, ``.stop()``; also a context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import aemo, amber, amber_ws, control, tesla
from .amber_ws import HUB, LiveHub
from .core import SIM, Config, Simulator, json_response
from .scenarios import Fault

# First path segment -> service (for faults and latency); None = never faulted.
_SERVICE_OF_SEGMENT: dict[str, str | None] = {
    "amber": "amber",
    "amber-ws": "amber_ws",
    "aemo": "aemo",
    "tesla": "tesla",
    "teslemetry": "tesla",
    "tesla-auth": "tesla_auth",
    "control": None,
}


def _fault_reply(service: str, fault: Fault) -> web.Response:
    status = fault.status
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
    if service == "tesla":
        error = {
            408: ("device offline", "Device Not Available"),
            429: ("Too Many Requests", "rate limited"),
        }.get(status, ("Service Unavailable", "upstream unavailable"))
        return json_response(
            {"response": None, "error": error[0], "error_description": error[1]},
            status=status,
            headers=headers,
        )
    if service == "amber":
        return json_response({"message": "Service Unavailable"}, status=status, headers=headers)
    return web.Response(status=status, text="Service Unavailable", headers=headers)


@web.middleware
async def faults_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    path = request.path
    end = path.find("/", 1)
    service = _SERVICE_OF_SEGMENT.get(path[1:end] if end > 0 else path[1:])
    if service is None:
        return await handler(request)
    sim = request.app[SIM]
    sim.requests[service] = sim.requests.get(service, 0) + 1
    world = sim.world
    delay = world.latency_ms.get(service)
    if delay:
        await asyncio.sleep(delay / 1000)
    fault = world.faults.get(service)
    if fault is None or (fault.energy_sites_only and "/energy_sites/" not in path):
        return await handler(request)
    if fault.kind == "hang":
        await asyncio.sleep(fault.hang_s)
        return web.Response(status=504, text="Gateway Timeout")
    if fault.kind == "status":
        return _fault_reply(service, fault)
    response = await handler(request)
    if isinstance(response, web.Response) and isinstance(response.body, bytes) and response.body:
        # malformed_json: a truncated document that no JSON parser accepts.
        body = response.body
        response.body = body[: max(1, len(body) // 2)].rstrip(b"]}") + b',"'
    return response


def build_app(sim: Simulator) -> web.Application:
    app = web.Application(middlewares=[faults_middleware])
    app[SIM] = sim
    hub = LiveHub(sim)
    app[HUB] = hub
    app.on_startup.append(hub.start)
    app.on_shutdown.append(hub.stop)
    for module in (amber, amber_ws, aemo, tesla, control):
        app.add_routes(module.routes())
    return app


def base_urls(host: str, port: int) -> dict[str, str]:
    root = f"http://{host}:{port}"
    return {
        "amber": f"{root}/amber/v1",
        "amber_ws": f"ws://{host}:{port}{amber_ws.PATH}",
        "aemo": f"{root}/aemo",
        "tesla_fleet": f"{root}/tesla",
        "teslemetry": f"{root}/teslemetry",
        "tesla_auth": f"{root}/tesla-auth",
        "control": f"{root}/control",
    }


@dataclass
class RunningSimulator:
    sim: Simulator
    app: web.Application
    base_urls: dict[str, str]
    port: int


@contextlib.asynccontextmanager
async def run_simulator(
    host: str = "127.0.0.1", port: int = 0, *, config: Config | None = None, **overrides: Any
) -> AsyncIterator[RunningSimulator]:
    """Serve the simulator until the block exits. ``overrides`` are :class:`Config` fields."""
    cfg = config or Config(**overrides)
    sim = Simulator(cfg)
    app = build_app(sim)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = int(runner.addresses[0][1])
    sim.base_urls = base_urls(host, bound)
    try:
        yield RunningSimulator(sim=sim, app=app, base_urls=sim.base_urls, port=bound)
    finally:
        await runner.cleanup()


class SimulatorThread:
    """Runs the simulator on its own event loop in a daemon thread (for synchronous tests)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        self.host = host
        self.port = port
        self.config = Config(**config)
        self.base_urls: dict[str, str] = {}
        self.running: RunningSimulator | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def sim(self) -> Simulator:
        """The live state (read it only; it belongs to the simulator's thread)."""
        assert self.running is not None, "not started"
        return self.running.sim

    def start(self, timeout: float = 15.0) -> SimulatorThread:
        self._thread = threading.Thread(target=self._run, name="powersync-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("simulator did not start in time")
        if self._error is not None:
            raise RuntimeError("simulator failed to start") from self._error
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced to start()'s caller
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with run_simulator(self.host, self.port, config=self.config) as running:
            self.running = running
            self.base_urls = running.base_urls
            self.port = running.port
            self._ready.set()
            await self._stop.wait()

    def call(self, func: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run ``func`` on the simulator's loop and return its result (thread-safe access)."""
        assert self._loop is not None

        async def runner() -> Any:
            return func()

        return asyncio.run_coroutine_threadsafe(runner(), self._loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
