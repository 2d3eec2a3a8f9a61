from __future__ import annotations

import uuid
from collections.abc import Iterator

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

    from tasks.locks import redis_client

    prefix = f"test-{uuid.uuid4().hex}"
    with override_settings(REDIS_KEY_PREFIX=prefix):
        yield prefix
    client = redis_client()
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
