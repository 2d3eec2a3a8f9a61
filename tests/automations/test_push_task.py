"""The queued push of a saved tariff reaches the simulated Powerwall and is confirmed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tariffs.engine.custom_tou import render_custom_tariff, schedule_from_dict
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.models import TariffPush
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
