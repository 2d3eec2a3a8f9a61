"""A push is confirmed only by Tesla's read-back: the same tariff, whatever its formatting, is
confirmed; a different one is a mismatch, an event, and a push again at the next sync."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from typing import Any
from unittest import mock

import pytest

from automations.routine import SyncOutcome
from devices.clients import tesla_client_for
from devices.providers.tesla import TeslaEnergyClient
from households.models import Event
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.models import TariffPush
from tests.automations.conftest import FROZEN_NOW, control, site_sync

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def read_back_as(change) -> Any:
    """Patch site_info so that Tesla's read-back is ``change(held tariff)``."""
    real = TeslaEnergyClient.site_info

    def site_info(self, energy_site_id):
        info = real(self, energy_site_id)
        held = info.tariff_content_v2
        return dataclasses.replace(info, tariff_content_v2=change(copy.deepcopy(held)))

    return mock.patch.object(TeslaEnergyClient, "site_info", site_info)


def reformatted(content: dict[str, Any]) -> dict[str, Any]:
    """The same tariff as Tesla might echo it: rates as strings, keys in another order, and
    an explicit zero demand charge."""
    for rates in (
        content["energy_charges"]["ALL"]["rates"],
        content["sell_tariff"]["energy_charges"]["ALL"]["rates"],
    ):
        for period, value in list(rates.items()):
            rates[period] = str(value)
    content["demand_charges"] = {"ALL": {"rates": {"ALL": 0}}}
    return dict(reversed(list(content.items())))


def test_the_same_tariff_reformatted_is_confirmed(upstream, linked_site):
    with read_back_as(reformatted):
        assert site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW) == (
            SyncOutcome.PUSHED
        )
    assert TariffPush.objects.get(site=linked_site).status == TariffPush.Status.CONFIRMED


def test_an_identical_read_back_needs_no_fingerprint(upstream, linked_site):
    with (
        mock.patch("automations.reconcile.tariff_fingerprint", wraps=tariff_fingerprint) as built,
        mock.patch("automations.writes.tariff_fingerprint", wraps=tariff_fingerprint) as pushed,
    ):
        site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW)
    # The tariff sent, once; the echo is compared as it is.
    assert built.call_count + pushed.call_count == 1
    assert TariffPush.objects.get(site=linked_site).status == TariffPush.Status.CONFIRMED


def test_a_different_read_back_is_a_mismatch_recorded_and_pushed_again(
    upstream, linked_site, new_tesla_writes
):
    def other_rates(content: dict[str, Any]) -> dict[str, Any]:
        rates = content["energy_charges"]["ALL"]["rates"]
        first = next(iter(rates))
        rates[first] = round(float(rates[first]) + 0.05, 4)
        return content

    with read_back_as(other_rates):
        outcome = site_sync(site_id=linked_site.pk, reason="forecast", now=FROZEN_NOW)
    assert outcome == SyncOutcome.MISMATCH
    push = TariffPush.objects.get(site=linked_site)
    assert push.status == TariffPush.Status.MISMATCH
    assert "read-back differs" in push.detail
    event = Event.objects.filter(site=linked_site).latest("pk")
    assert event.decision == "Tariff pushed but the read-back differs"
    assert event.outcome == Event.Outcome.FAILED

    # Nothing is confirmed as held, so the next sync pushes again, and this time it holds.
    later = FROZEN_NOW + dt.timedelta(minutes=5)
    control(upstream, "/clock", {"now": later.isoformat(), "speed": 0})
    assert site_sync(site_id=linked_site.pk, reason="forecast", now=later) == SyncOutcome.PUSHED
    assert list(
        TariffPush.objects.filter(site=linked_site).order_by("pk").values_list("status", flat=True)
    ) == [TariffPush.Status.MISMATCH, TariffPush.Status.CONFIRMED]
    assert len(new_tesla_writes()) == 2
    assert (
        tesla_client_for(linked_site)
        .site_info(int(linked_site.tesla_energy_site_id))
        .tariff_content_v2
        == TariffPush.objects.filter(site=linked_site).latest("pk").tariff_content
    )
