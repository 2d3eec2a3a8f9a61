"""``manage.py prune_history [--household N ...]``: the daily retention run, here and now.

For an operator clearing a backlog (a first deployment, or after raising or lowering a
``*_RETENTION_DAYS``) without waiting for Beat. Runs in this process, household by household,
with a progress line every ``PROGRESS_EVERY`` households and the totals at the end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from households.models import Household
from ops import retention

PROGRESS_EVERY = 500


class Command(BaseCommand):
    help = "Delete history past its retention now (what the daily task does)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--household",
            type=int,
            action="append",
            default=[],
            help="only this household (repeatable); default every household",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        household_ids = options["household"] or retention.households_to_prune()
        unknown = set(household_ids) - set(
            Household.objects.filter(pk__in=household_ids).values_list("pk", flat=True)
        )
        if unknown:
            raise CommandError(f"no household with id {', '.join(map(str, sorted(unknown)))}")
        totals: Counter[str] = Counter()
        if not options["household"]:
            totals["aemo_prices"] = retention.shared_history_prune()
        for done, household_id in enumerate(household_ids, start=1):
            totals.update(asdict(retention.household_history_prune(household_id=household_id)))
            if done % PROGRESS_EVERY == 0 and done < len(household_ids):
                self.stdout.write(f"{done} of {len(household_ids)} households pruned")
        deleted = ", ".join(f"{kind.replace('_', ' ')} {count}" for kind, count in totals.items())
        households = f"{len(household_ids)} household{'' if len(household_ids) == 1 else 's'}"
        self.stdout.write(f"{households} pruned. Deleted: {deleted}")
