from __future__ import annotations

import factory
from django.contrib.auth.models import User

from devices.models import Site
from households.models import Household, Membership


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class HouseholdFactory(factory.django.DjangoModelFactory[Household]):
    class Meta:
        model = Household

    name = factory.Sequence(lambda n: f"Household {n}")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    household = factory.SubFactory(HouseholdFactory)
    role = Membership.Role.OWNER


class SiteFactory(factory.django.DjangoModelFactory[Site]):
    class Meta:
        model = Site

    household = factory.SubFactory(HouseholdFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    price_source = Site.PriceSource.AMBER
    amber_site_id = factory.Sequence(lambda n: f"01AMBERSITE{n:015d}")
    tesla_energy_site_id = factory.Sequence(lambda n: f"{1000000000000 + n}")
