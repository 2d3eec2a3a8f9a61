"""`make run`'s launcher: with no Redis or PostgreSQL configured, web + worker + beat come up on
SQLite and an embedded Redis, /healthz turns all green, and one signal stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from ops.devrun import free_loopback_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_run_dev_brings_everything_up_and_stops_cleanly(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL", "CREDENTIALS_ENCRYPTION_KEYS"}
    }
    # A data directory that does not exist yet, as on a fresh clone.
    env.update(DATA_DIR=str(tmp_path / "fresh" / "data"), DJANGO_ENV="development")
    manage = [sys.executable, "manage.py"]
    for step in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [*manage, *step], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120
        )

    port = free_loopback_port()
    proc = subprocess.Popen(
        [*manage, "run_dev", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        status, body = 0, b""
        while time.monotonic() < deadline:
            status, body = get(f"http://127.0.0.1:{port}/healthz") if _port_open(port) else (0, b"")
            if status == 200:
                break
            time.sleep(1)
        assert status == 200, body.decode(errors="replace")
        components = json.loads(body)["components"]
        assert {c["status"] for c in components.values()} == {"ok"}
        assert components["database"]["detail"] == "sqlite"
        assert get(f"http://127.0.0.1:{port}/admin/login/")[0] == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        roles = " ".join(" ".join(c.cmdline()) for c in children)
        assert "redis-server" in roles
        assert "runserver" in roles
        assert "worker" in roles
        assert "beat" in roles
        assert "-m simulator" in roles
        assert "listen_amber" in roles
        web = next(c for c in children if "runserver" in " ".join(c.cmdline()))
        web_env = web.environ()
        assert web_env["AMBER_API_BASE_URL"].startswith("http://127.0.0.1:")  # the simulator
        assert web_env["TESLA_CLIENT_ID"].startswith("sim-client-")  # "Connect Tesla" works
        assert web_env["TESLA_REDIRECT_URI"] == f"http://127.0.0.1:{port}/onboarding/tesla/callback"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert "Stopping" in output
    assert "Demo login: admin / powersync-demo" in output
    assert "Demo site linked to simulated household 1" in output
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
