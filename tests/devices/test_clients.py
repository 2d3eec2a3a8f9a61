"""Building Tesla clients from a site: Teslemetry's region is learnt once and kept as a code."""

from __future__ import annotations

import pytest
import responses

from credentials.models import SiteCredentials
from devices.clients import MissingCredentials, tesla_client_for
from devices.models import Site
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def teslemetry_site(fernet_keys) -> Site:
    site = SiteFactory.create(tesla_access=Site.TeslaAccess.TESLEMETRY)
    SiteCredentials.objects.create(site=site, teslemetry_api_key="tlm-key")
    return site


@responses.activate
def test_region_is_asked_once_then_kept_as_a_code(teslemetry_site, settings):
    settings.TESLEMETRY_BASE_URL = "https://api.teslemetry.test"
    settings.TESLEMETRY_REGION_URL_TEMPLATE = "https://{region}.teslemetry.test"
    responses.get(
        "https://api.teslemetry.test/api/metadata",
        json={"uid": "u", "region": "NA", "scopes": ["energy_device_data"]},
    )
    assert tesla_client_for(teslemetry_site).base_url == "https://na.teslemetry.test"
    teslemetry_site.refresh_from_db()
    assert teslemetry_site.teslemetry_region == "na"

    tesla_client_for(teslemetry_site)
    assert len(responses.calls) == 1  # no second metadata call


def test_a_changed_host_setting_applies_to_sites_already_known(teslemetry_site, settings):
    Site.objects.filter(pk=teslemetry_site.pk).update(teslemetry_region="eu")
    teslemetry_site.refresh_from_db()
    settings.TESLEMETRY_REGION_URL_TEMPLATE = "http://127.0.0.1:9999/teslemetry"
    assert tesla_client_for(teslemetry_site).base_url == "http://127.0.0.1:9999/teslemetry"
    settings.TESLEMETRY_REGION_URL_TEMPLATE = "https://{region}.teslemetry.com"
    assert tesla_client_for(teslemetry_site).base_url == "https://eu.teslemetry.com"


def test_missing_credentials_are_a_clear_error(fernet_keys):
    site = SiteFactory.create(tesla_access=Site.TeslaAccess.FLEET)
    with pytest.raises(MissingCredentials, match="no Tesla access token"):
        tesla_client_for(site)
