"""Tesla clients for sites: the one place that turns a Site and its credentials into a client.

Teslemetry sites learn their regional base URL once (a metadata call) and keep it on the Site;
Fleet API sites use TESLA_FLEET_BASE_URL until Tesla answers 421 with another region.
"""

from __future__ import annotations

from django.conf import settings

from credentials.models import SiteCredentials
from devices.models import Site
from devices.providers.tesla import TeslaEnergyClient, TeslaOAuthClient
from devices.providers.tesla.client import teslemetry_region_base_url
from ops.http import upstream_session, upstream_timeout


class MissingCredentials(Exception):
    """The site has no token for its Tesla access method."""


def teslemetry_client(*, api_key: str, region: str = "") -> tuple[TeslaEnergyClient, str]:
    """A Teslemetry client on the account's regional host, and that region's code.

    The region is asked from Teslemetry's metadata when not known. Only the code is kept on the
    site (not a URL), so changing TESLEMETRY_REGION_URL_TEMPLATE never leaves stale hosts behind.
    """
    if not region:
        probe = TeslaEnergyClient(
            access_token=api_key,
            session=upstream_session(),
            base_url=settings.TESLEMETRY_BASE_URL,
            timeout=upstream_timeout(),
            discover_region_on_421=False,
        )
        region = probe.teslemetry_metadata().region.lower()
    client = TeslaEnergyClient(
        access_token=api_key,
        session=upstream_session(),
        base_url=teslemetry_region_base_url(
            region, template=settings.TESLEMETRY_REGION_URL_TEMPLATE
        ),
        timeout=upstream_timeout(),
        discover_region_on_421=False,
    )
    return client, region


def tesla_client_for(site: Site, credentials: SiteCredentials | None = None) -> TeslaEnergyClient:
    # The reverse one-to-one: no query when the caller loaded it with select_related.
    creds = credentials or getattr(site, "credentials", None)
    if site.tesla_access == Site.TeslaAccess.TESLEMETRY:
        token = creds.teslemetry_api_key if creds else None
        if not token:
            raise MissingCredentials(f"site {site.pk} has no Teslemetry key")
        client, region = teslemetry_client(api_key=token, region=site.teslemetry_region)
        if region != site.teslemetry_region:
            Site.objects.filter(pk=site.pk).update(teslemetry_region=region)
            site.teslemetry_region = region
        return client
    token = creds.tesla_access_token if creds else None
    if not token:
        raise MissingCredentials(f"site {site.pk} has no Tesla access token")
    return TeslaEnergyClient(
        access_token=token,
        session=upstream_session(),
        base_url=site.tesla_api_base_url or settings.TESLA_FLEET_BASE_URL,
        timeout=upstream_timeout(),
    )


class OAuthNotConfigured(Exception):
    """TESLA_CLIENT_ID is not set, so the Fleet API OAuth flow cannot run."""


def tesla_oauth_client() -> TeslaOAuthClient:
    if not settings.TESLA_CLIENT_ID:
        raise OAuthNotConfigured(
            "set TESLA_CLIENT_ID (and TESLA_CLIENT_SECRET) to use the Fleet API"
        )
    return TeslaOAuthClient(
        client_id=settings.TESLA_CLIENT_ID,
        client_secret=settings.TESLA_CLIENT_SECRET or None,
        session=upstream_session(),
        redirect_uri=settings.TESLA_REDIRECT_URI or None,
        authorize_url=settings.TESLA_AUTHORIZE_URL,
        token_url=settings.TESLA_TOKEN_URL,
        audience=settings.TESLA_FLEET_BASE_URL,
        timeout=upstream_timeout(),
    )
