"""One-at-a-time per site: a Redis lock with a TTL and an owner token (redis-py's Lock stores a
random token and releases only if it still owns the key, so an expired holder cannot release a
newer holder's lock)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis
from django.conf import settings
from redis.exceptions import LockError
from redis.lock import Lock


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def redis_key(*parts: object) -> str:
    """A key under REDIS_KEY_PREFIX, so deployments (and test runs) sharing a Redis never meet."""
    return ":".join((settings.REDIS_KEY_PREFIX, *(str(part) for part in parts)))


# Release the lock if this holder still owns it, and take what was left for it (KEYS[2]), in one
# round trip and at once: no request can land in between.
_RELEASE_AND_TAKE = """
local left = redis.call('getdel', KEYS[2])
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return left
"""


def lock_release_and_take(lock: Lock, key: str) -> str | None:
    """Release ``lock`` (if still ours) and take the value left under ``key`` (None: none)."""
    token = getattr(lock.local, "token", None)
    script = redis_client().register_script(_RELEASE_AND_TAKE)
    value = script(keys=[str(lock.name), key], args=[token or b""])
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def site_lock(kind: str, site_id: int, *, ttl_seconds: float) -> Iterator[bool]:
    """Yield True if this caller holds the ``kind`` lock of the site, False (at once, without
    waiting) if someone else does."""
    lock = redis_client().lock(
        redis_key("lock", kind, site_id), timeout=ttl_seconds, blocking=False
    )
    acquired = bool(lock.acquire())
    try:
        yield acquired
    finally:
        if acquired:
            # LockError: the TTL ran out first; the key expired or now belongs to another holder.
            with suppress(LockError):
                lock.release()
