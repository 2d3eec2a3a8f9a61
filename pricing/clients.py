"""Amber and AEMO clients built from settings: the one place that knows their base URLs."""

from __future__ import annotations

from django.conf import settings

from ops.http import upstream_session, upstream_timeout
from pricing.providers.aemo import AemoClient
from pricing.providers.amber import AmberClient


def amber_client(token: str) -> AmberClient:
    return AmberClient(
        token,
        session=upstream_session(),
        base_url=settings.AMBER_API_BASE_URL,
        timeout_s=upstream_timeout(),
    )


def aemo_client() -> AemoClient:
    return AemoClient(
        session=upstream_session(), base_url=settings.AEMO_BASE_URL, timeout_s=upstream_timeout()
    )
