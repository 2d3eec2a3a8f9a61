"""The queued push of a saved tariff reaches the simulated Powerwall and is confirmed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from unittest import mock

import pytest
from celery.exceptions import Retry

from tariffs.engine.custom_tou import render_custom_tariff, schedule_from_dict
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.models import TariffPush
from tasks.locks import site_lock
from tasks.sync import push_tariff
from tests.automations.conftest import control

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

EXAMPLE = Path(__file__).resolve().parents[1] / "tariffs/engine/data/custom_schedule_example.json"


def test_push_task_puts_the_plan_on_the_battery(upstream, linked_site, new_tesla_writes):
    content = render_custom_tariff(schedule_from_dict(json.loads(EXAMPLE.read_text())))
    push_tariff.apply(args=(linked_site.pk, content, "custom", "Push plan “Example”"))
    push = TariffPush.objects.get(site=linked_site)
    assert (push.reason, push.status) == ("custom", TariffPush.Status.CONFIRMED)
    held = control(upstream, f"/tesla/sites/{linked_site.tesla_energy_site_id}")
    assert tariff_fingerprint(held["tariff_content_v2"]) == tariff_fingerprint(content)
    assert [w["command"] for w in new_tesla_writes()] == ["time_of_use_settings"]


def test_a_push_while_the_site_syncs_is_retried_later_not_waited_for(linked_site, new_tesla_writes):
    content = render_custom_tariff(schedule_from_dict(json.loads(EXAMPLE.read_text())))
    started = time.monotonic()
    with (
        site_lock("sync", linked_site.pk, ttl_seconds=60) as held,
        mock.patch.object(push_tariff, "retry", side_effect=Retry()) as retry,
    ):
        assert held
        with pytest.raises(Retry):
            push_tariff(linked_site.pk, content, "custom", "Push plan “Example”")
    assert time.monotonic() - started < 5  # the worker did not sit on the lock
    assert retry.call_args.kwargs["countdown"] == 30
    assert not TariffPush.objects.filter(site=linked_site).exists()
    assert new_tesla_writes() == []
