"""``manage.py resume_writes``: end write pauses; every site they held is reconciled.

manage.py resume_writes --id 3
manage.py resume_writes --all
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automations import pauses


class Command(BaseCommand):
    help = "End write pauses (by id, or all of them); the sites they held are reconciled."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--id", type=int, action="append", help="a pause, by id (repeatable)")
        which.add_argument("--all", action="store_true", help="every pause in force")

    def handle(self, *args: Any, **options: Any) -> None:
        active = pauses.active_pauses()
        chosen = list(active if options["all"] else active.filter(pk__in=options["id"]))
        missing = set(options["id"] or []) - {pause.pk for pause in chosen}
        if missing:
            raise CommandError(
                f"no pause in force with id {', '.join(map(str, sorted(missing)))} "
                "(see `manage.py pause_writes --list`)"
            )
        for pause in chosen:
            queued = pauses.writes_resume(pause=pause)
            self.stdout.write(
                f"Resumed #{pause.pk} ({pause.covers}): {queued:,} site"
                f"{'' if queued == 1 else 's'} queued for a reconcile."
            )
        if not chosen:
            self.stdout.write("No pause in force.")
