"""The HTTP session and timeouts every provider client gets (one session per thread: requests'
Session pools connections but is not documented as thread-safe)."""

from __future__ import annotations

import os
import threading
import urllib.request
from typing import Any

import requests
from django.conf import settings
from django.db import connection
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

_local = threading.local()


def upstream_session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _new_session()
        _local.session = session
    return session


def _new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "PowerSync/0.1 (+https://github.com/powersync)"
    if database_pooled():
        adapter = _PoolReleasingAdapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    # With trust_env on, requests walks the whole environment for proxy variables (and reads
    # ~/.netrc, whose credentials would replace our Authorization header) on every request:
    # ~0.1 ms each, thousands of times per sync cycle. Read the environment once instead. Only
    # when a proxy is configured do we keep requests' per-request rules (NO_PROXY matching).
    session.trust_env = bool(urllib.request.getproxies())
    if not session.trust_env:
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    return session


def database_pooled() -> bool:
    """Whether the default database hands out pooled connections (PostgreSQL with
    DATABASE_POOL_MAX_SIZE, see settings)."""
    return bool(connection.settings_dict.get("OPTIONS", {}).get("pool"))


class _PoolReleasingAdapter(HTTPAdapter):
    """Hands this thread's pooled database connection back before waiting on an upstream (a
    Tesla call takes hundreds of milliseconds); the next query takes one from the pool again.
    Never inside a transaction."""

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        if connection.connection is not None and not connection.in_atomic_block:
            connection.close()
        return super().send(request, *args, **kwargs)


def upstream_timeout() -> tuple[float, float]:
    """(connect, read) seconds."""
    return (
        float(settings.UPSTREAM_CONNECT_TIMEOUT_SECONDS),
        float(settings.UPSTREAM_READ_TIMEOUT_SECONDS),
    )
