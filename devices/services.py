"""Writes of the devices app: sites, their settings, and connecting them to Amber and Tesla.

Every function is keyword-only. Functions that talk to a provider (``*_verify``, ``*_list``,
``site_tesla_connect_*``) make their HTTP calls OUTSIDE any database transaction and translate
every provider error into ``ConnectionCheckFailed``, whose message is safe to show a household
(it never carries a token). Secrets go only into ``SiteCredentials`` (encrypted at rest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from automations import dispatch
from automations.models import AutomationState
from credentials.models import SiteCredentials
from devices.clients import (
    MissingCredentials,
    OAuthNotConfigured,
    tesla_client_for,
    tesla_oauth_client,
    teslemetry_client,
)
from devices.models import Site
from devices.providers import tesla
from devices.validators import AUSTRALIAN_TIME_ZONES
from households.models import Household
from ops.http import upstream_session, upstream_timeout
from pricing.providers import amber
from tariffs.models import TariffPush

#: The Site fields a household may change on the settings page (and the API). Price source and
#: Tesla identity change only through onboarding (``site_create``, ``site_energy_site_set``).
SITE_SETTINGS_FIELDS: tuple[str, ...] = (
    "name",
    "time_zone",
    "tou_sync_enabled",
    "forecast_type",
    "spike_detection_enabled",
    "spike_threshold_dollars_per_mwh",
    "curtailment_enabled",
    "spike_protection_enabled",
    "export_boost_enabled",
    "export_boost_offset_c_per_kwh",
    "export_boost_min_c_per_kwh",
    "export_boost_threshold_c_per_kwh",
    "export_boost_window_start",
    "export_boost_window_end",
    "force_mode_toggle_enabled",
)

#: Settings that switch an intent on or off (automations/reconcile.py ends an intent whose
#: setting is off), or change what one wants.
RECONCILE_ON_CHANGE = frozenset(
    {
        "tou_sync_enabled",
        "forecast_type",
        "spike_detection_enabled",
        "curtailment_enabled",
        "force_mode_toggle_enabled",
    }
)

#: Price-source fields, changed together by ``site_price_source_update``.
SITE_PRICE_SOURCE_FIELDS: tuple[str, ...] = (
    "price_source",
    "amber_site_id",
    "aemo_region",
    "aemo_network",
    "aemo_tariff_code",
    "custom_schedule",
)


class ConnectionCheckFailed(Exception):
    """A provider refused or could not be reached while connecting a site.

    ``message`` is written for the household and never contains a secret.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- site settings ---------------------------------------------------------------------------


def _clean_and_save(site: Site, fields: list[str]) -> Site:
    """Validate the whole site (field validators, choices, constraints) and save only ``fields``.

    Raises ``ValidationError`` with a per-field ``message_dict``; nothing is written then.
    """
    site.full_clean(exclude=["household"])
    if fields:
        site.save(update_fields=[*fields, "updated_at"])
    return site


@transaction.atomic
def site_settings_update(*, site: Site, changes: Mapping[str, Any]) -> Site:
    """Change a site's automation settings (``SITE_SETTINGS_FIELDS`` only).

    Values are Python values of the model fields (Decimal, bool, ``datetime.time``…), as a form's
    ``cleaned_data`` or a serializer's ``validated_data`` hold them.

    Raises:
        ValidationError: an unknown field, a value out of range, an unknown time zone, or an
            export-boost window that starts and ends at the same time. Nothing is saved.
    """
    unknown = sorted(set(changes) - set(SITE_SETTINGS_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This setting cannot be changed here."))
    fresh = Site.objects.select_for_update().get(pk=site.pk)
    changed = [name for name, value in changes.items() if getattr(fresh, name) != value]
    for name in changed:
        setattr(fresh, name, changes[name])
    if fresh.export_boost_window_start == fresh.export_boost_window_end:
        raise ValidationError(
            {"export_boost_window_end": "The boost window must end at a different time."}
        )
    _clean_and_save(fresh, changed)
    for name in changed:  # keep the caller's instance in step
        setattr(site, name, getattr(fresh, name))
    if set(changed) & RECONCILE_ON_CHANGE:
        # What the automations want changed (an automation on or off): the Powerwall follows
        # within one reconcile, not at the automation's next check.
        dispatch.reconcile(fresh.pk, queue=dispatch.BULK_QUEUE)
    return fresh


@transaction.atomic
def site_create(
    *,
    household: Household,
    name: str,
    price_source: str,
    amber_site_id: str = "",
    aemo_region: str = "",
    aemo_network: str = "",
    aemo_tariff_code: str = "",
    custom_schedule_id: int | None = None,
    time_zone: str = "Australia/Sydney",
    amber_token: str | None = None,
) -> Site:
    """Create a site with its price source, an empty automation state and its credentials row.

    Automations start OFF (``tou_sync_enabled=False``) until the Tesla side is connected and the
    household turns sync on at the end of onboarding.

    Raises:
        ValidationError: the price source is incomplete (e.g. Amber without a site id), the
            schedule belongs to another household, or the time zone is unknown.
    """
    if custom_schedule_id is not None:
        from tariffs.models import CustomTouSchedule

        if not CustomTouSchedule.objects.filter(
            pk=custom_schedule_id, household=household
        ).exists():
            raise ValidationError({"custom_schedule": "Choose one of your own schedules."})
    site = Site(
        household=household,
        name=name.strip() or "My home",
        time_zone=time_zone,
        price_source=price_source,
        amber_site_id=amber_site_id if price_source == Site.PriceSource.AMBER else "",
        aemo_region=aemo_region if price_source == Site.PriceSource.AEMO else "",
        aemo_network=aemo_network if price_source == Site.PriceSource.AEMO else "",
        aemo_tariff_code=aemo_tariff_code if price_source == Site.PriceSource.AEMO else "",
        custom_schedule_id=custom_schedule_id if price_source == Site.PriceSource.CUSTOM else None,
        tou_sync_enabled=False,
    )
    site.full_clean()
    site.save()
    AutomationState.objects.create(site=site)
    credentials = SiteCredentials(site=site)
    if amber_token:
        credentials.amber_token = amber_token
    credentials.save()
    return site


@transaction.atomic
def site_price_source_update(*, site: Site, changes: Mapping[str, Any]) -> Site:
    """Switch a site's price source (``SITE_PRICE_SOURCE_FIELDS``; ``custom_schedule`` is a
    ``CustomTouSchedule`` of the same household or None).

    Raises ``ValidationError`` if the result is incomplete; nothing is saved then.
    """
    unknown = sorted(set(changes) - set(SITE_PRICE_SOURCE_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    fresh = Site.objects.select_for_update().get(pk=site.pk)
    schedule = changes.get("custom_schedule")
    if schedule is not None and schedule.household_id != fresh.household_id:
        raise ValidationError({"custom_schedule": "Choose one of your own schedules."})
    for name, value in changes.items():
        setattr(fresh, name, value)
    saved = _clean_and_save(fresh, list(changes))
    if saved.tou_sync_enabled:
        # Live prices now come from elsewhere: a sync builds the tariff from the new source.
        dispatch.sync(saved.pk, reason=TariffPush.Reason.MANUAL)
    return saved


@transaction.atomic
def site_credentials_save(
    *,
    site: Site,
    amber_token: str | None = None,
    teslemetry_api_key: str | None = None,
    tesla_access_token: str | None = None,
    tesla_refresh_token: str | None = None,
    tesla_token_expires_at: dt.datetime | None = None,
) -> SiteCredentials:
    """Store the given secrets (None = leave as is), encrypted. Never returns them to a page."""
    credentials, _ = SiteCredentials.objects.select_for_update().get_or_create(site=site)
    updates = {
        "amber_token": amber_token,
        "teslemetry_api_key": teslemetry_api_key,
        "tesla_access_token": tesla_access_token,
        "tesla_refresh_token": tesla_refresh_token,
        "tesla_token_expires_at": tesla_token_expires_at,
    }
    fields = [name for name, value in updates.items() if value is not None]
    for name in fields:
        setattr(credentials, name, updates[name])
    if fields:
        credentials.save(update_fields=[*fields, "updated_at"])
    return credentials


@transaction.atomic
def site_energy_site_set(*, site: Site, energy_site_id: str, time_zone: str | None) -> Site:
    """Pair the site with a Tesla energy site; take the site's time zone from Tesla when it is
    one we know (else the site keeps its own).

    Raises ``ValidationError`` if the Powerwall is already paired with another site, this
    household's or another's: one Powerwall has one owner.
    """
    fresh = Site.objects.select_for_update().get(pk=site.pk)
    holder = (
        Site.objects.filter(tesla_energy_site_id=energy_site_id)
        .exclude(pk=fresh.pk)
        .values_list("household_id", flat=True)
        .first()
    )
    if holder is not None:
        whose = "another of your sites" if holder == fresh.household_id else "another household"
        raise ValidationError(
            {"tesla_energy_site_id": f"This Powerwall is already connected to {whose}."}
        )
    fresh.tesla_energy_site_id = energy_site_id
    fields = ["tesla_energy_site_id"]
    if time_zone and time_zone in dict(AUSTRALIAN_TIME_ZONES):
        fresh.time_zone = time_zone
        fields.append("time_zone")
    return _clean_and_save(fresh, fields)


# --- provider checks (HTTP; never inside a transaction) --------------------------------------
# Clients come from devices.clients (the one factory of Tesla clients) and ops.http (the shared
# session and timeouts); these functions only translate failures into household words.


def _amber_failure(exc: amber.AmberError) -> ConnectionCheckFailed:
    if isinstance(exc, amber.AuthFailed):
        return ConnectionCheckFailed("Amber refused this token. Copy it again from the Amber app.")
    if isinstance(exc, amber.RateLimited):
        return ConnectionCheckFailed(
            f"Amber is rate limiting this token; try again in {int(exc.retry_after)} s."
        )
    if isinstance(exc, amber.Unavailable):
        return ConnectionCheckFailed("Amber could not be reached; try again in a minute.")
    return ConnectionCheckFailed("Amber answered unexpectedly; try again later.")


def amber_token_verify(*, token: str) -> list[amber.Site]:
    """List the Amber sites a token can see (proves the token works).

    Raises:
        ConnectionCheckFailed: the token was refused, Amber was unreachable or answered oddly, or
            the token sees no site.
    """
    client = amber.AmberClient(
        token,
        session=upstream_session(),
        base_url=settings.AMBER_API_BASE_URL,
        timeout_s=upstream_timeout(),
    )
    try:
        sites = client.list_sites()
    except amber.AmberError as exc:
        raise _amber_failure(exc) from None
    if not sites:
        raise ConnectionCheckFailed("This Amber token has no site.")
    return sites


def _tesla_failure(exc: tesla.TeslaError) -> ConnectionCheckFailed:
    if isinstance(exc, tesla.AuthError):
        return ConnectionCheckFailed("Tesla refused the credentials. Connect again.")
    if isinstance(exc, tesla.PaymentRequired):
        return ConnectionCheckFailed("The Teslemetry subscription has no credit left.")
    if isinstance(exc, tesla.RateLimited):
        return ConnectionCheckFailed("Tesla is rate limiting us; try again in a minute.")
    if isinstance(exc, tesla.Unavailable | tesla.DeviceOffline):
        return ConnectionCheckFailed("Tesla could not be reached; try again in a minute.")
    return ConnectionCheckFailed("Tesla answered unexpectedly; try again later.")


def _site_client(site: Site) -> tesla.TeslaEnergyClient:
    try:
        return tesla_client_for(site)
    except MissingCredentials:
        raise ConnectionCheckFailed("This site is not connected to Tesla yet.") from None
    except tesla.TeslaError as exc:
        raise _tesla_failure(exc) from None


def tesla_energy_sites_list(*, site: Site) -> list[tesla.EnergySite]:
    """The Tesla energy sites (with a battery) the site's credentials can see.

    Raises ``ConnectionCheckFailed``.
    """
    client = _site_client(site)
    try:
        products = client.products()
    except tesla.TeslaError as exc:
        raise _tesla_failure(exc) from None
    return [product for product in products if product.has_battery]


def tesla_site_info(*, site: Site, energy_site_id: int) -> tesla.SiteInfo:
    """Tesla's ``site_info`` of an energy site, through the site's credentials.

    Raises ``ConnectionCheckFailed``.
    """
    client = _site_client(site)
    try:
        return client.site_info(energy_site_id)
    except tesla.TeslaError as exc:
        raise _tesla_failure(exc) from None


def site_tesla_connect_teslemetry(*, site: Site, api_key: str) -> list[tesla.EnergySite]:
    """Check a Teslemetry key (region lookup + products) and, if it works, store it.

    The key is not stored yet, so the client is built from it directly (``devices.clients``
    builds clients from stored credentials only). Returns the energy sites with a battery the key
    can see. Raises ``ConnectionCheckFailed`` (and stores nothing) when Teslemetry refuses the key
    or sees no battery.
    """
    try:
        client, region = teslemetry_client(api_key=api_key)
        products = client.products()
    except tesla.TeslaError as exc:
        raise _tesla_failure(exc) from None
    batteries = [product for product in products if product.has_battery]
    if not batteries:
        raise ConnectionCheckFailed("Teslemetry sees no Powerwall on this account.")
    with transaction.atomic():
        site_credentials_save(site=site, teslemetry_api_key=api_key)
        Site.objects.filter(pk=site.pk).update(
            tesla_access=Site.TeslaAccess.TESLEMETRY,
            teslemetry_region=region,
            needs_reauthorisation=False,
        )
        dispatch.reconcile(site.pk, queue=dispatch.BULK_QUEUE)  # writes held while locked out
    site.tesla_access = Site.TeslaAccess.TESLEMETRY
    site.teslemetry_region = region
    site.needs_reauthorisation = False
    return batteries


def tesla_oauth_start() -> tesla.AuthorizationRequest:
    """The "Connect Tesla" authorisation request (URL, state, PKCE verifier).

    The caller keeps ``state`` and ``code_verifier`` in the session for the callback. Raises
    ``ConnectionCheckFailed`` when the service has no Tesla application configured.
    """
    try:
        oauth = tesla_oauth_client()
        return oauth.authorization_url()
    except (OAuthNotConfigured, ValueError):
        raise ConnectionCheckFailed(
            "Connecting to Tesla directly is not set up on this service; use Teslemetry."
        ) from None


def site_tesla_connect_fleet(*, site: Site, code: str, code_verifier: str | None) -> Site:
    """Finish "Connect Tesla": exchange the callback's code and store the tokens.

    The caller has already checked ``state`` (``tesla.verify_state``). Raises
    ``ConnectionCheckFailed`` (nothing stored) when Tesla refuses the code.
    """
    try:
        tokens = tesla_oauth_client().exchange_code(code, code_verifier=code_verifier)
    except OAuthNotConfigured:
        raise ConnectionCheckFailed("Connecting to Tesla directly is not set up.") from None
    except tesla.TeslaError as exc:
        raise _tesla_failure(exc) from None
    with transaction.atomic():
        site_credentials_save(
            site=site,
            tesla_access_token=tokens.access_token,
            tesla_refresh_token=tokens.refresh_token or None,
            tesla_token_expires_at=tokens.expires_at,
        )
        Site.objects.filter(pk=site.pk).update(
            tesla_access=Site.TeslaAccess.FLEET, tesla_api_base_url="", needs_reauthorisation=False
        )
        dispatch.reconcile(site.pk, queue=dispatch.BULK_QUEUE)  # writes held while locked out
    site.tesla_access = Site.TeslaAccess.FLEET
    site.tesla_api_base_url = ""
    site.needs_reauthorisation = False
    return site
