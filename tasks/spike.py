"""Spike, force discharge and override-repair tasks. They run on the ``spike`` queue, ahead of
routine syncs (see powersync_site/celery.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from celery import shared_task
from django.utils import timezone

from devices import battery_override, force_discharge
from devices.clients import tesla_client_for
from devices.models import AutomationState, Site
from devices.providers import tesla
from pricing import spike
from pricing.providers import aemo
from tariffs.models import TariffPush

TRANSIENT = (tesla.Unavailable, tesla.DeviceOffline, tesla.RateLimited)
CHECK_EXPIRES_SECONDS = 50


@shared_task(
    name="tasks.spike.check_regions",
    ignore_result=True,
    autoretry_for=(aemo.Unavailable,),
    retry_backoff=5,
    max_retries=2,
)
def check_regions() -> None:
    """Beat, every minute: one AEMO read for all regions, fanned out to the sites it concerns."""
    for region, price in spike.aemo_prices_check().items():
        for site_id in spike.sites_to_evaluate(region, price.rrp_dollars_per_mwh):
            evaluate_site.apply_async(
                (site_id, str(price.rrp_dollars_per_mwh), price.interval_end_utc.isoformat()),
                expires=CHECK_EXPIRES_SECONDS,
            )


@shared_task(
    name="tasks.spike.evaluate_site",
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    retry_jitter=True,
    max_retries=3,
)
def evaluate_site(site_id: int, rrp_dollars_per_mwh: str, interval_end: str) -> None:
    spike.site_spike_evaluate(
        site_id=site_id,
        rrp_dollars_per_mwh=Decimal(rrp_dollars_per_mwh),
        interval_end=dt.datetime.fromisoformat(interval_end),
    )


@shared_task(
    name="tasks.spike.force_discharge_begin",
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    max_retries=3,
)
def force_discharge_begin(site_id: int, minutes: int) -> None:
    until = force_discharge.force_discharge_begin(site_id=site_id, minutes=minutes)
    # Also re-checked every minute by repair_overrides, so a lost ETA task still restores.
    force_discharge_end.apply_async((site_id, until.isoformat()), eta=until)


@shared_task(
    name="tasks.spike.force_discharge_end",
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    max_retries=5,
)
def force_discharge_end(site_id: int, expected_until: str | None) -> None:
    force_discharge.force_discharge_end(
        site_id=site_id,
        expected_until=dt.datetime.fromisoformat(expected_until) if expected_until else None,
    )


@shared_task(name="tasks.spike.repair_overrides", ignore_result=True)
def repair_overrides() -> None:
    """Beat, every minute: end expired force discharges and finish interrupted restores."""
    now = timezone.now()
    expired = AutomationState.objects.filter(force_discharge_until__lte=now).values_list(
        "site_id", "force_discharge_until"
    )
    for site_id, until in expired:
        force_discharge_end.delay(site_id, until.isoformat() if until else None)
    for site_id in battery_override.sites_needing_release(now=now):
        release_site.delay(site_id)


@shared_task(
    name="tasks.spike.release_site",
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    max_retries=3,
)
def release_site(site_id: int) -> None:
    site = Site.objects.filter(pk=site_id).first()
    if site is not None:
        battery_override.battery_override_release(
            site=site,
            client=tesla_client_for(site),
            reason=TariffPush.Reason.RESTORE,
            why="Finish an interrupted restore",
        )
