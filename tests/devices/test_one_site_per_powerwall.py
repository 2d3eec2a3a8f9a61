"""One Powerwall, one site: a second claim, by another household or by another site of the same
one, is a clear refusal (the service's words, never a constraint's name), and the database holds
to it whatever path a row takes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from devices.models import Site
from devices.services import site_energy_site_set
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def test_a_powerwall_held_by_another_household_is_refused_in_words():
    holder = SiteFactory.create(tesla_energy_site_id="555")
    newcomer = SiteFactory.create(tesla_energy_site_id="")
    with pytest.raises(ValidationError) as refused:
        site_energy_site_set(site=newcomer, energy_site_id="555", time_zone=None)
    assert refused.value.message_dict == {
        "tesla_energy_site_id": ["This Powerwall is already connected to another household."]
    }
    assert Site.objects.get(pk=newcomer.pk).tesla_energy_site_id == ""
    sibling = SiteFactory.create(household=holder.household, tesla_energy_site_id="")
    with pytest.raises(ValidationError, match="another of your sites"):
        site_energy_site_set(site=sibling, energy_site_id="555", time_zone=None)


def test_the_database_refuses_a_second_site_on_one_powerwall():
    SiteFactory.create(tesla_energy_site_id="777")
    with pytest.raises(IntegrityError), transaction.atomic():
        SiteFactory.create(tesla_energy_site_id="777")


def test_a_time_zone_from_tesla_we_do_not_know_leaves_the_sites_own():
    site = SiteFactory.create(tesla_energy_site_id="", time_zone="Australia/Brisbane")
    site_energy_site_set(site=site, energy_site_id="888", time_zone="Etc/UTC")
    site.refresh_from_db()
    assert (site.tesla_energy_site_id, site.time_zone) == ("888", "Australia/Brisbane")
    site_energy_site_set(site=site, energy_site_id="888", time_zone="Australia/Adelaide")
    site.refresh_from_db()
    assert site.time_zone == "Australia/Adelaide"
