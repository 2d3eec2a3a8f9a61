"""Writes of the tariffs app: custom TOU schedules and saved tariff profiles.

Schedules are validated by the pure engine (``tariffs.engine.custom_tou``) before anything is
written; its ``ScheduleInvalid`` messages name the season, day and time at fault, so callers show
them as they are. Pushing tariffs to Tesla lives with the push/sync services, not here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from devices.models import Site
from devices.selectors import site_connection_status
from devices.services import ConnectionCheckFailed, tesla_site_info
from households.models import Household
from tariffs.engine.custom_tou import ScheduleInvalid, schedule_from_dict, schedule_to_dict
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.tesla_format import TariffInvalid, parse_tariff_content_v2
from tariffs.models import CustomTouSchedule, TouProfile


class ScheduleInUse(Exception):
    """A custom schedule is the price source of a site and cannot be deleted."""


def _demand_dollars_per_kw(definition: dict[str, Any]) -> Decimal:
    """The highest per-period demand rate ($/kW) of a normalised definition (0 when none)."""
    rates = [
        Decimal(period.get("demand_dollars_per_kw", "0"))
        for season in definition["seasons"]
        for period in season["periods"]
    ]
    return max(rates, default=Decimal(0))


def _normalised(definition: Any) -> tuple[dict[str, Any], Decimal]:
    """Parse + validate the JSON form; return it normalised ($/kWh strings) and $/day supply.

    Raises ``ScheduleInvalid``.
    """
    schedule = schedule_from_dict(definition)
    return schedule_to_dict(schedule), schedule.daily_supply_dollars


@transaction.atomic
def custom_schedule_create(
    *, household: Household, definition: Any, retailer: str = ""
) -> CustomTouSchedule:
    """Validate a schedule's JSON form (``custom_tou`` module docstring) and save it.

    The stored ``definition`` is the engine's normalised form (rates in $/kWh as strings).

    Raises:
        ScheduleInvalid: the engine's precise message (coverage, overlap, bad field).
        ValidationError: the household already has a schedule of that name.
    """
    normalised, supply_dollars = _normalised(definition)
    if CustomTouSchedule.objects.filter(household=household, name=normalised["name"]).exists():
        raise ValidationError({"name": "You already have a schedule with this name."})
    try:
        with transaction.atomic():
            return CustomTouSchedule.objects.create(
                household=household,
                name=normalised["name"],
                retailer=retailer or normalised["utility"],
                definition=normalised,
                daily_supply_charge_dollars=supply_dollars,
                demand_charge_dollars_per_kw=_demand_dollars_per_kw(normalised),
            )
    except IntegrityError:  # a concurrent create with the same name won the race
        raise ValidationError({"name": "You already have a schedule with this name."}) from None


@transaction.atomic
def custom_schedule_update(*, schedule: CustomTouSchedule, definition: Any) -> CustomTouSchedule:
    """Replace a schedule's definition (and name) after validating it; same errors as create."""
    normalised, supply_dollars = _normalised(definition)
    clash = (
        CustomTouSchedule.objects.filter(
            household_id=schedule.household_id, name=normalised["name"]
        )
        .exclude(pk=schedule.pk)
        .exists()
    )
    if clash:
        raise ValidationError({"name": "You already have a schedule with this name."})
    schedule.name = normalised["name"]
    schedule.retailer = normalised["utility"]
    schedule.definition = normalised
    schedule.daily_supply_charge_dollars = supply_dollars
    schedule.demand_charge_dollars_per_kw = _demand_dollars_per_kw(normalised)
    schedule.save()
    return schedule


@transaction.atomic
def custom_schedule_delete(*, schedule: CustomTouSchedule) -> None:
    """Delete a schedule. Raises ``ScheduleInUse`` if a site uses it as its price source."""
    if Site.objects.filter(custom_schedule=schedule).exists():
        raise ScheduleInUse("A site uses this schedule; choose another price source first.")
    schedule.delete()


@transaction.atomic
def tou_profile_create(
    *,
    household: Household,
    name: str,
    tariff_content: dict[str, Any],
    site: Site | None = None,
    kind: str = TouProfile.Kind.MANUAL,
) -> TouProfile:
    """Save a Tesla ``tariff_content_v2`` as a profile, with its fingerprint.

    Raises:
        TariffInvalid: the document is not a tariff Tesla's format can express.
        ValidationError: the site belongs to another household, or ``kind`` is DEFAULT (use
            ``tou_profile_set_default``).
    """
    if site is not None and site.household_id != household.pk:
        raise ValidationError({"site": "Choose one of your own sites."})
    if kind == TouProfile.Kind.DEFAULT:
        raise ValidationError({"kind": "Save the profile first, then make it the default."})
    parse_tariff_content_v2(tariff_content)  # raises TariffInvalid on a malformed document
    return TouProfile.objects.create(
        household=household,
        site=site,
        name=name.strip()[:120] or "Saved tariff",
        kind=kind,
        tariff_content=tariff_content,
        fingerprint=tariff_fingerprint(tariff_content),
    )


@transaction.atomic
def tou_profile_set_default(*, profile: TouProfile) -> TouProfile:
    """Make ``profile`` its site's default; the previous default becomes a manual profile.

    Raises ``ValidationError`` for a profile not tied to a site.
    """
    if profile.site_id is None:
        raise ValidationError({"site": "Only a profile saved for a site can be its default."})
    # Lock the site's profiles so two requests cannot both leave a default behind.
    list(TouProfile.objects.select_for_update().filter(site_id=profile.site_id))
    TouProfile.objects.filter(site_id=profile.site_id, kind=TouProfile.Kind.DEFAULT).exclude(
        pk=profile.pk
    ).update(kind=TouProfile.Kind.MANUAL)
    TouProfile.objects.filter(pk=profile.pk).update(kind=TouProfile.Kind.DEFAULT)
    profile.kind = TouProfile.Kind.DEFAULT
    return profile


@transaction.atomic
def tou_profile_rename(*, profile: TouProfile, name: str) -> TouProfile:
    """Give a saved profile a new name (the tariff it holds never changes).

    Raises ``ValidationError`` for an empty name.
    """
    cleaned = name.strip()[:120]
    if not cleaned:
        raise ValidationError({"name": "Give the profile a name."})
    TouProfile.objects.filter(pk=profile.pk).update(name=cleaned)
    profile.name = cleaned
    return profile


@transaction.atomic
def tou_profile_delete(*, profile: TouProfile) -> None:
    """Delete a saved profile."""
    profile.delete()


def tou_profile_save_current(*, site: Site, name: str) -> TouProfile:
    """Read the tariff Tesla holds now (``site_info``) and save it as a manual profile.

    One Tesla read, made outside any transaction.

    Raises:
        ValidationError: the site is not connected to Tesla (nothing to ask): under ``site``.
        ConnectionCheckFailed: Tesla could not be asked, or the site has no tariff.
        TariffInvalid: Tesla's tariff could not be read.
    """
    connection = site_connection_status(site=site)
    if not connection.tesla_credentials_stored:
        raise ValidationError(
            {"site": "This site is not connected to Tesla yet: connect it first."}
        )
    if not site.tesla_energy_site_id:
        raise ValidationError({"site": "Choose this site's Powerwall first (Connections)."})
    info = tesla_site_info(site=site, energy_site_id=int(site.tesla_energy_site_id))
    if not info.tariff_content_v2:
        raise ConnectionCheckFailed("Tesla holds no time-of-use tariff for this site.")
    return tou_profile_create(
        household=site.household,
        site=site,
        name=name,
        tariff_content=info.tariff_content_v2,
    )


__all__ = [
    "ScheduleInUse",
    "ScheduleInvalid",
    "TariffInvalid",
    "custom_schedule_create",
    "custom_schedule_delete",
    "custom_schedule_update",
    "tou_profile_create",
    "tou_profile_delete",
    "tou_profile_rename",
    "tou_profile_save_current",
    "tou_profile_set_default",
]
