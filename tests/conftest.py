from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from cryptography.fernet import Fernet


@pytest.fixture
def fernet_keys(settings):
    """Two fresh keys, installed as the configured list [old]; returns (old, new)."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [old]
    return old, new


@pytest.fixture(scope="session", autouse=True)
def database_pools_closed_at_the_end(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Before the test database is dropped, close pooled PostgreSQL connections
    (settings.DATABASE_POOL_MAX_SIZE) and end the idle ones threads left behind (in-process
    workers, live servers): PostgreSQL refuses to drop a database somebody is connected to."""
    yield
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper

    connection = connections["default"]
    if not isinstance(connection, PostgresWrapper):
        return
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        for each in connections.all(initialized_only=True):
            if isinstance(each, PostgresWrapper) and each.pool is not None:
                each.close_pool()


@pytest.fixture(autouse=True)
def isolated_redis_keys() -> Iterator[str]:
    """Every test gets its own Redis key prefix (locks, watch marks): runs sharing the machine's
    Redis, and leftovers of a test killed mid-way, never meet. Its keys are deleted after it."""
    from django.test.utils import override_settings

    from ops.locks import redis_client

    prefix = f"test-{uuid.uuid4().hex}"
    with override_settings(REDIS_KEY_PREFIX=prefix):
        yield prefix
    client = redis_client()
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


class SentTasks:
    """What the dispatch point (automations.dispatch) handed the broker, in order."""

    def __init__(self, send_task: Any) -> None:
        self._send_task = send_task

    OPTIONS = ("queue", "countdown", "eta", "expires")

    @property
    def calls(self) -> list[tuple[str, list[Any], dict[str, Any]]]:
        """(task name, args, options given: queue, countdown, eta, expires) of every task sent."""
        sent = []
        for call in self._send_task.call_args_list:
            args = call.kwargs["args"] if "args" in call.kwargs else call.args[1]
            options = {k: v for k, v in call.kwargs.items() if k in self.OPTIONS and v is not None}
            sent.append((call.args[0], list(args), options))
        return sent

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@pytest.fixture
def sent_tasks() -> Iterator[SentTasks]:
    """The broker replaced by a recorder for tasks sent through the dispatch point; run the
    test's on_commit callbacks (``django_capture_on_commit_callbacks(execute=True)``) or let
    the transaction commit to see them."""
    from celery import current_app

    with mock.patch.object(current_app, "send_task") as send_task:
        yield SentTasks(send_task)
