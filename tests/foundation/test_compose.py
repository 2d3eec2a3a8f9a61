"""docker-compose.yml and the Dockerfile (no Docker engine here, so they are checked as files)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_ROLES = {"web", "worker", "worker-urgent", "beat", "listener"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_present():
    assert {"db", "redis", *APP_ROLES} <= set(compose()["services"])


def test_backing_services_have_health_checks():
    services = compose()["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "healthcheck --only listener" in " ".join(services["listener"]["healthcheck"]["test"])


def test_roles_share_one_image():
    services = compose()["services"]
    images = {services[role]["image"] for role in APP_ROLES}
    assert images == {"powersync:latest"}
    assert all(services[role]["build"] == "." for role in APP_ROLES)


def test_ordered_start_waits_for_health():
    services = compose()["services"]
    assert services["web"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for role in ("worker", "worker-urgent", "beat", "listener"):
        assert services[role]["depends_on"] == {"web": {"condition": "service_healthy"}}


def test_only_web_migrates():
    services = compose()["services"]
    commands = {
        role: " ".join(services[role]["command"])
        if isinstance(services[role]["command"], list)
        else services[role]["command"]
        for role in APP_ROLES
    }
    assert "migrate" in commands["web"]
    assert "gunicorn" in commands["web"]
    assert all(
        "migrate" not in commands[role] for role in ("worker", "worker-urgent", "beat", "listener")
    )
    assert "worker" in commands["worker"]
    assert "worker" in commands["worker-urgent"]
    assert "beat" in commands["beat"]
    assert "listen_amber" in commands["listener"]


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_urgent_work_has_its_own_worker_and_pools_fit_the_database():
    services = compose()["services"]
    routine, urgent = services["worker"], services["worker-urgent"]
    # Every queue the app routes to is consumed, and spikes never wait behind routine syncs.
    assert set(_option(routine["command"], "--queues").split(",")) == {"sync", "default"}
    assert set(_option(urgent["command"], "--queues").split(",")) == {"spike", "curtail"}
    pools = []
    for worker in (routine, urgent):
        assert _option(worker["command"], "--pool") == "threads"
        threads = int(_option(worker["command"], "--concurrency"))
        pool = int(worker["environment"]["DATABASE_POOL_MAX_SIZE"])
        assert 0 < pool <= threads
        pools.append(pool)
        # Each role keeps the shared production settings.
        assert worker["environment"]["DJANGO_ENV"] == "production"
        # Its health check pings its own node name.
        node = _option(worker["command"], "--hostname").split("@")[0]
        assert f"-d {node}@" in " ".join(worker["healthcheck"]["test"])
    max_connections = int(_option(services["db"]["command"], "-c").split("=")[1])
    assert sum(pools) + 10 < max_connections  # web, beat and listener need a few more


def test_production_environment_and_no_healthcheck_deadlock():
    services = compose()["services"]
    for role in APP_ROLES:
        assert services[role]["environment"]["DJANGO_ENV"] == "production"
    # web's own health check must not wait on worker/beat, which start after web is healthy.
    assert "only=database,broker" in " ".join(services["web"]["healthcheck"]["test"])


def test_dockerfile_slim_non_root_portable():
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert any(line.startswith("FROM python:3.11-slim") for line in lines)
    users = [line for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] != "USER root"
    assert "--platform" not in text
    assert "amd64" not in text.replace("amd64 and arm64", "")
    assert "requirements.txt" in text
