"""``manage.py listen_amber``: hold the Amber live-price sockets of every Amber site.

Runs until SIGTERM/SIGINT (closes every socket, flushes pending writes) or for ``--once-seconds``.
Prints a status line every ``--status-seconds``: connections live / connecting / backing off,
sites polled over REST, updates received and tasks enqueued.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from pricing.live_listener import AmberLiveProcess, ListenerConfig


class Command(BaseCommand):
    help = "Listen to Amber live prices for every Amber site (long-running; SIGTERM stops it)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--once-seconds",
            type=float,
            default=None,
            help="stop after this many seconds (tests, smoke runs)",
        )
        parser.add_argument(
            "--status-seconds", type=float, default=60.0, help="seconds between status lines"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._main(options["once_seconds"], options["status_seconds"]))

    async def _main(self, once_seconds: float | None, status_seconds: float) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if once_seconds is not None:
            loop.call_later(once_seconds, stop.set)
        process = AmberLiveProcess(config=ListenerConfig.from_settings())
        self.stdout.write(f"amber live: listening at {process.live_config.url}")
        reporter = asyncio.create_task(self._report(process, status_seconds))
        try:
            await process.run(stop)
        finally:
            reporter.cancel()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        self.stdout.write(process.status().line() + " (stopped)")

    async def _report(self, process: AmberLiveProcess, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            self.stdout.write(process.status().line())
