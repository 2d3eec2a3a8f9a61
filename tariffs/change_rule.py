"""When a fresh live-price tariff is worth a Tesla write, and what it is compared with.

Change rule: push when the current or next half-hour moves by more than
SYNC_TOLERANCE_C_PER_KWH, or any half-hour of the day moves by more than
SYNC_WIDE_TOLERANCE_C_PER_KWH; identical tariffs never push (SPEC §4.11).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings

from devices.models import Site
from tariffs.engine.custom_tou import half_hour_rates_for
from tariffs.engine.fingerprint import change_matters
from tariffs.engine.model import HalfHourRates
from tariffs.engine.tesla_format import parse_tariff_content_v2
from tariffs.models import TariffPush
from tariffs.stored_rates import rates_from_json


def held_rates(site: Site, *, now: dt.datetime, fingerprint: str = "") -> HalfHourRates | None:
    """The 48 half-hours of today under the last tariff Tesla confirmed holding.

    ``fingerprint``: what the Powerwall is known to hold now; when the last confirmed push is
    not that tariff (the household changed it, or a read-back found something else), there is
    nothing to compare with: None.
    """
    confirmed = TariffPush.objects.filter(site=site, status=TariffPush.Status.CONFIRMED)
    last = (
        confirmed.order_by("-created_at", "-id")
        .values_list("pk", "half_hour_rates", "fingerprint")
        .first()
    )
    if last is None or (fingerprint and last[2] != fingerprint):
        return None
    if last[1]:
        return rates_from_json(last[1])
    content = confirmed.filter(pk=last[0]).values_list("tariff_content", flat=True).get()
    return half_hour_rates_for(parse_tariff_content_v2(content), now.astimezone(site.zone).date())


def push_needed(
    previous: HalfHourRates | None, fresh: HalfHourRates, index: int
) -> tuple[bool, str]:
    """The change rule of the module docstring: (push?, why)."""
    near = change_matters(
        previous,
        fresh,
        current_index=index,
        tolerance_c_per_kwh=Decimal(str(settings.SYNC_TOLERANCE_C_PER_KWH)),
        lookahead_periods=1,
    )
    if near.matters:
        return True, near.reason
    wide = change_matters(
        previous,
        fresh,
        current_index=index,
        tolerance_c_per_kwh=Decimal(str(settings.SYNC_WIDE_TOLERANCE_C_PER_KWH)),
        lookahead_periods=47,
    )
    return wide.matters, (wide.reason if wide.matters else near.reason)
