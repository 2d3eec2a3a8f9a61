"""Login throttling: at most N failed logins per (username, client IP) inside a window.

Counts live in Django's cache (LocMem by default; a shared cache when several web processes run).
The key is a hash, so usernames never sit in the cache in clear. A success clears the count.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

_PREFIX = "web:login-failures:"


def client_ip(request: HttpRequest) -> str:
    """The peer address. Behind a proxy, the proxy must set REMOTE_ADDR (we never trust
    X-Forwarded-For here: a client could forge it to dodge the throttle)."""
    return str(request.META.get("REMOTE_ADDR", ""))


def _key(username: str, ip: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}|{ip}".encode()).hexdigest()
    return _PREFIX + digest


def login_blocked(*, username: str, ip: str) -> bool:
    """True while this username + IP has used up its failed attempts for the window."""
    return int(cache.get(_key(username, ip), 0)) >= settings.LOGIN_THROTTLE_MAX_FAILURES


def login_failed(*, username: str, ip: str) -> int:
    """Count one failure; return the failures so far in the window (the window starts at the
    first failure and is not extended by later ones)."""
    key = _key(username, ip)
    window = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def login_succeeded(*, username: str, ip: str) -> None:
    cache.delete(_key(username, ip))
