"""PowerSync upstream simulator: Amber (REST + live WebSocket), AEMO, Tesla Fleet API,
Teslemetry and Tesla OAuth on one loopback aiohttp server. See simulator/README.md."""

from .app import RunningSimulator, SimulatorThread, base_urls, build_app, run_simulator
from .core import Config, Simulator

__all__ = [
    "Config",
    "RunningSimulator",
    "Simulator",
    "SimulatorThread",
    "base_urls",
    "build_app",
    "run_simulator",
]
