from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from automations.models import AutomationState
from credentials.models import SiteCredentials
from devices.models import Site
from households.models import Household
from households.services import household_create
from ops.devrun import simulated_household

DEMO_USERNAME = "admin"
DEMO_PASSWORD = "powersync-demo"
DEMO_HOUSEHOLD = "Demo household"


class Command(BaseCommand):
    help = (
        "Create the demo admin user and demo household (idempotent; development only). With "
        "--simulator, the demo site is connected to that simulator's first household."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--simulator",
            metavar="CONTROL_URL",
            help="the simulator's control base URL, e.g. http://127.0.0.1:8765/control",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo creates a known password and is refused in production")
        user, created = User.objects.get_or_create(
            username=DEMO_USERNAME,
            defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        household = Household.objects.filter(name=DEMO_HOUSEHOLD, memberships__user=user).first()
        if household is None:
            household = household_create(name=DEMO_HOUSEHOLD, owner=user)
        upstream = None
        if options["simulator"]:
            try:
                upstream = simulated_household(options["simulator"])
            except (requests.RequestException, KeyError, IndexError, ValueError) as exc:
                raise CommandError(
                    f"cannot read households from the simulator at {options['simulator']}"
                ) from exc
        site, _ = Site.objects.get_or_create(
            household=household,
            name="Demo home",
            defaults={
                "price_source": Site.PriceSource.AMBER,
                "amber_site_id": "01DEMOSITE0000000000000000",
                "tesla_energy_site_id": "1000000000001",
                "time_zone": "Australia/Sydney",
            },
        )
        creds, _ = SiteCredentials.objects.get_or_create(site=site)
        AutomationState.objects.get_or_create(site=site)
        if upstream is not None:
            # The simulator's households are deterministic, so re-seeding links the same one.
            Site.objects.filter(pk=site.pk).update(
                name=upstream["site_name"],
                amber_site_id=upstream["amber_site_id"],
                tesla_energy_site_id=str(upstream["energy_site_id"]),
                tesla_access=Site.TeslaAccess.TESLEMETRY,
                teslemetry_region="",
                time_zone=upstream["time_zone"],
                aemo_region=upstream["region"],
                spike_detection_enabled=True,
                curtailment_enabled=True,
            )
            creds.amber_token = upstream["amber_token"]
            creds.teslemetry_api_key = upstream["teslemetry_key"]
            creds.save()
            self.stdout.write(f"Demo site linked to simulated household {upstream['index']}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD} (household {household.name!r})"
            )
        )
