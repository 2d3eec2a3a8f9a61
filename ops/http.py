"""The HTTP session and timeouts every provider client gets (one session per thread: requests'
Session pools connections but is not documented as thread-safe)."""

from __future__ import annotations

import threading

import requests
from django.conf import settings

_local = threading.local()


def upstream_session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = "PowerSync/0.1 (+https://github.com/powersync)"
        _local.session = session
    return session


def upstream_timeout() -> tuple[float, float]:
    """(connect, read) seconds."""
    return (
        float(settings.UPSTREAM_CONNECT_TIMEOUT_SECONDS),
        float(settings.UPSTREAM_READ_TIMEOUT_SECONDS),
    )
