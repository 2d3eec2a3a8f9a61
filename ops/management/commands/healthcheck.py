"""``manage.py healthcheck [--only listener,worker]``: the /healthz check without HTTP.

Prints the same JSON and exits 1 when a checked component is down (container health checks of
roles that serve no HTTP, e.g. the Amber listener).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ops import selectors


class Command(BaseCommand):
    help = "Check the service's health like /healthz; exit 1 when a component is down."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--only",
            default="",
            help=f"comma-separated components (default all): {', '.join(selectors.COMPONENTS)}",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = frozenset(part.strip() for part in options["only"].split(",") if part.strip())
        unknown = wanted - set(selectors.COMPONENTS)
        if unknown:
            raise CommandError(
                f"unknown component(s): {sorted(unknown)}; known: {', '.join(selectors.COMPONENTS)}"
            )
        health = selectors.system_health(only=wanted or None)
        self.stdout.write(json.dumps(health.as_dict()))
        if not health.ok:
            raise CommandError("unhealthy", returncode=1)
