from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from credentials.models import SiteCredentials
from devices.models import AutomationState, Site
from households.models import Household
from households.services import household_create

DEMO_USERNAME = "admin"
DEMO_PASSWORD = "powersync-demo"
DEMO_HOUSEHOLD = "Demo household"


class Command(BaseCommand):
    help = "Create the demo admin user and demo household (idempotent; development only)."

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
        SiteCredentials.objects.get_or_create(site=site)
        AutomationState.objects.get_or_create(site=site)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD} (household {household.name!r})"
            )
        )
