"""Bounded loopback load test: ``python -m simulator.loadtest [--requests N] [--concurrency C]``.

Starts the simulator in a child process (so client and server do not share a core), fires a fixed
number of requests with aiohttp across many households, and prints requests/s per endpoint mix.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import aiohttp


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_up(control: str) -> None:
    deadline = time.monotonic() + 15
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{control}/health") as reply:
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("simulator did not come up")


async def _run(args: argparse.Namespace, root: str) -> None:
    control = f"{root}/control"
    await _wait_up(control)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        households: list[dict[str, Any]] = []
        offset = 0
        while offset < args.households:
            async with session.get(
                f"{control}/households", params={"offset": offset, "limit": 1000}
            ) as reply:
                households += (await reply.json())["households"]
            offset += 1000
        mixes = {
            "amber prices/current next=48": lambda h: (
                f"{root}/amber/v1/sites/{h['amber_site_id']}/prices/current?next=48&resolution=30",
                h["amber_token"],
            ),
            "teslemetry live_status": lambda h: (
                f"{root}/teslemetry/api/1/energy_sites/{h['energy_site_id']}/live_status",
                h["teslemetry_key"],
            ),
            "aemo ELEC_NEM_SUMMARY": lambda h: (
                f"{root}/aemo/aemo/apps/api/report/ELEC_NEM_SUMMARY",
                "",
            ),
        }
        for label, make in mixes.items():
            statuses: Counter[int] = Counter()
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(args.requests):
                queue.put_nowait(i)

            async def worker(
                make: Any = make,
                statuses: Counter[int] = statuses,
                queue: asyncio.Queue[int] = queue,
            ) -> None:
                while True:
                    try:
                        i = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    url, token = make(households[i % len(households)])
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    async with session.get(url, headers=headers) as reply:
                        await reply.read()
                        statuses[reply.status] += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            elapsed = time.perf_counter() - started
            print(
                f"{label:<32} {args.requests} requests in {elapsed:.2f} s = "
                f"{args.requests / elapsed:,.0f} req/s  statuses={dict(statuses)}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.loadtest")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--households", type=int, default=1000)
    args = parser.parse_args(argv)
    port = _free_port()
    # The simulator under test, started as `make run` would start it (fixed argv, no shell).
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            str(port),
            "--households",
            str(args.households),
            "--no-rate-limits",
        ],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONOPTIMIZE": "1"},
    )
    try:
        asyncio.run(_run(args, f"http://127.0.0.1:{port}"))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
