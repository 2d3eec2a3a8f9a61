"""``manage.py pause_writes``: the operator's kill switch from a shell.

    manage.py pause_writes --fleet --reason "Tesla API incident"
    manage.py pause_writes --region QLD1 --reason "Energex outage"
    manage.py pause_writes --site 42 --reason "Household asked us to stop"
    manage.py pause_writes --list

Paused sites keep computing and logging what they would do; ``resume_writes`` ends a pause and
reconciles every site it held.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from automations import pauses
from automations.models import WritePause
from devices.models import NemRegion, Site


class Command(BaseCommand):
    help = "Pause every Tesla write fleet-wide, for one NEM region or for one site."

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--fleet", action="store_true", help="every site")
        scope.add_argument("--region", choices=NemRegion.values, help="one NEM region")
        scope.add_argument("--site", type=int, help="one site, by id")
        scope.add_argument("--list", action="store_true", help="list the pauses in force")
        parser.add_argument("--reason", default="", help="why (shown to every household held)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            self._list()
            return
        site = None
        if options["site"] is not None:
            site = Site.objects.filter(pk=options["site"]).first()
            if site is None:
                raise CommandError(f"no site with id {options['site']}")
        scope = (
            WritePause.Scope.FLEET
            if options["fleet"]
            else WritePause.Scope.REGION
            if options["region"]
            else WritePause.Scope.SITE
        )
        try:
            pause = pauses.writes_pause(
                scope=scope, region=options["region"] or "", site=site, reason=options["reason"]
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        held = pauses.sites_covered(pause).count()
        self.stdout.write(
            f"Paused Tesla writes for {pause.covers} (pause #{pause.pk}): {pause.reason}. "
            f"{held:,} site{'' if held == 1 else 's'} held; resume with "
            f"`manage.py resume_writes --id {pause.pk}`."
        )

    def _list(self) -> None:
        active = list(pauses.active_pauses())
        if not active:
            self.stdout.write("No pause in force: Tesla writes flow.")
            return
        for pause in active:
            self.stdout.write(
                f"#{pause.pk} {pause.covers}, since {pause.created_at:%Y-%m-%d %H:%M} UTC: "
                f"{pause.reason}"
            )
