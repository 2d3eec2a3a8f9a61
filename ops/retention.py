"""How long history is kept, and pruning it: a daily Beat fan-out, one task per household.

Kept, in days (settings, from the environment):

* ``TARIFF_PUSH_RETENTION_DAYS`` (30): tariff pushes with their content, and the pre-spike /
  pre-discharge tariff backups. A push is the largest row we write (~4 KB stored).
* ``DEVICE_COMMAND_RETENTION_DAYS`` (90, at least 2: the write budget counts the last 24 h).
* ``EVENT_RETENTION_DAYS`` (180): the household's event log.
* ``PRICE_RETENTION_DAYS`` (35): Amber intervals and AEMO regional prices. The dashboard shows
  24 h, the calibrated forecast learns from 2 h.

Never deleted, whatever their age:

* a site's newest confirmed push (the next sync compares against it, ``tariffs.change_rule``)
  and its newest confirmed routine, non-override push (a takeover that finds one of our override
  tariffs on the battery saves that one instead, ``automations.overrides``);
* a backup still held by a takeover (``AutomationState.tariff_backup``), the newest backup of
  each kind per site, and every profile the household saved itself.

Expired login sessions are cleared too (Django's ``clearsessions``; sessions live in the database).
Raw energy samples have their own rule, next to their roll-up (``devices.energy``).
Each rule is one indexed DELETE per household; the first run after a long gap deletes a
household's whole backlog at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple, dataclass
from importlib import import_module

from django.conf import settings
from django.utils import timezone

from automations.models import AutomationState
from automations.overrides import OVERRIDE_PUSH_REASONS
from devices.models import DeviceCommand, Site
from households.models import Event, Household
from pricing.models import AemoRegionalPrice, AmberPriceInterval
from tariffs.models import TariffPush, TouProfile

BACKUP_KINDS = (TouProfile.Kind.PRE_SPIKE, TouProfile.Kind.PRE_DISCHARGE)


@dataclass(frozen=True)
class Pruned:
    """Rows deleted for one household, per kind."""

    tariff_pushes: int = 0
    tariff_backups: int = 0
    device_commands: int = 0
    events: int = 0
    amber_prices: int = 0

    @property
    def total(self) -> int:
        return sum(astuple(self))


def retention_cutoff(setting: str, *, now: dt.datetime) -> dt.datetime:
    """Rows older than this are pruned under the ``setting`` (a ``*_RETENTION_DAYS`` name)."""
    return now - dt.timedelta(days=int(getattr(settings, setting)))


def households_to_prune() -> list[int]:
    return list(Household.objects.order_by("pk").values_list("pk", flat=True))


def household_history_prune(*, household_id: int, now: dt.datetime | None = None) -> Pruned:
    """Delete the household's history past its retention (module rules); return the counts."""
    moment = now or timezone.now()
    sites = list(Site.objects.filter(household_id=household_id).values_list("pk", "amber_site_id"))
    site_ids = [site_id for site_id, _ in sites]
    amber_site_ids = sorted({amber_id for _, amber_id in sites if amber_id})
    push_cutoff = retention_cutoff("TARIFF_PUSH_RETENTION_DAYS", now=moment)
    pushes, _ = (
        TariffPush.objects.filter(site_id__in=site_ids, created_at__lt=push_cutoff)
        .exclude(pk__in=_pushes_always_kept(site_ids))
        .delete()
    )
    backups, _ = (
        TouProfile.objects.filter(
            site_id__in=site_ids, kind__in=BACKUP_KINDS, created_at__lt=push_cutoff
        )
        .exclude(pk__in=_backups_always_kept(site_ids))
        .delete()
    )
    commands, _ = DeviceCommand.objects.filter(
        site_id__in=site_ids,
        created_at__lt=retention_cutoff("DEVICE_COMMAND_RETENTION_DAYS", now=moment),
    ).delete()
    events, _ = Event.objects.filter(
        household_id=household_id,
        created_at__lt=retention_cutoff("EVENT_RETENTION_DAYS", now=moment),
    ).delete()
    prices, _ = AmberPriceInterval.objects.filter(
        amber_site_id__in=amber_site_ids,
        end_at__lt=retention_cutoff("PRICE_RETENTION_DAYS", now=moment),
    ).delete()
    return Pruned(
        tariff_pushes=pushes,
        tariff_backups=backups,
        device_commands=commands,
        events=events,
        amber_prices=prices,
    )


def aemo_prices_prune(*, now: dt.datetime | None = None) -> int:
    """AEMO regional prices are shared by every site of a region: pruned once, not per household."""
    cutoff = retention_cutoff("PRICE_RETENTION_DAYS", now=now or timezone.now())
    deleted, _ = AemoRegionalPrice.objects.filter(interval_end_at__lt=cutoff).delete()
    return deleted


def expired_sessions_clear() -> None:
    """What ``manage.py clearsessions`` does: the session engine drops expired sessions."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()


def shared_history_prune() -> int:
    """The rules that belong to no household, run once per pass: AEMO prices and expired
    sessions. Returns the AEMO prices deleted."""
    deleted = aemo_prices_prune()
    expired_sessions_clear()
    return deleted


def _pushes_always_kept(site_ids: list[int]) -> set[int]:
    kept: set[int] = set()
    for site_id in site_ids:
        confirmed = TariffPush.objects.filter(
            site_id=site_id, status=TariffPush.Status.CONFIRMED
        ).order_by("-created_at", "-id")
        for newest in (confirmed, confirmed.exclude(reason__in=OVERRIDE_PUSH_REASONS)):
            pk = newest.values_list("pk", flat=True).first()
            if pk is not None:
                kept.add(pk)
    return kept


def _backups_always_kept(site_ids: list[int]) -> set[int]:
    kept = set(
        AutomationState.objects.filter(site_id__in=site_ids, tariff_backup__isnull=False)
        .values_list("tariff_backup_id", flat=True)
        .distinct()
    )
    for site_id in site_ids:
        for kind in BACKUP_KINDS:
            pk = (
                TouProfile.objects.filter(site_id=site_id, kind=kind)
                .order_by("-created_at", "-id")
                .values_list("pk", flat=True)
                .first()
            )
            if pk is not None:
                kept.add(pk)
    return kept
