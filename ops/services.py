from __future__ import annotations

from django.utils import timezone

from ops.models import Heartbeat


def heartbeat_record(*, role: str, hostname: str = "") -> None:
    Heartbeat.objects.update_or_create(
        role=role, defaults={"hostname": hostname[:200], "last_seen_at": timezone.now()}
    )
