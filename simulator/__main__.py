"""Start the simulator.

``python -m simulator --host 127.0.0.1 --port 8765 [--scenario NAME] [--households N] [--seed S]``
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import datetime

from .app import run_simulator
from .core import Config
from .scenarios import SCENARIOS

_LABELS = {
    "amber": "Amber REST (api.amber.com.au/v1)",
    "amber_ws": "Amber live WebSocket (api-ws.amber.com.au)",
    "aemo": "AEMO (visualisations.aemo.com.au)",
    "tesla_fleet": "Tesla Fleet API (fleet-api.prd.na.vn.cloud.tesla.com)",
    "teslemetry": "Teslemetry (api.teslemetry.com)",
    "tesla_auth": "Tesla OAuth (auth.tesla.com / fleet-auth.prd.vn.cloud.tesla.com)",
    "control": "Simulator control",
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--scenario", default="normal", choices=sorted(SCENARIOS))
    parser.add_argument("--households", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", help="simulated start time, ISO 8601 with offset (default: now)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second"
    )
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="disable Amber and Teslemetry rate limits"
    )
    parser.add_argument(
        "--require-partner-registration",
        action="store_true",
        help="Fleet API answers 412 until the client registered via /api/1/partner_accounts",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    now = None
    if args.now:
        now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        if now.tzinfo is None:
            raise SystemExit("--now needs a UTC offset")
    config = Config(
        households=args.households,
        seed=args.seed,
        scenario=args.scenario,
        now=now,
        speed=args.speed,
        amber_rate_limit=not args.no_rate_limits,
        teslemetry_rate_limit=not args.no_rate_limits,
        require_partner_registration=args.require_partner_registration,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with run_simulator(args.host, args.port, config=config) as running:
        print(
            f"PowerSync simulator: {args.households} households, seed {args.seed}, "
            f"scenario {args.scenario}",
            flush=True,
        )
        for key, url in running.base_urls.items():
            print(f"{key:<12} {url:<40} {_LABELS[key]}", flush=True)
        await stop.wait()
    print("simulator stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    asyncio.run(_serve(_parse(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
