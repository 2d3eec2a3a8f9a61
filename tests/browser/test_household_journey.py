"""The whole household journey in a real browser, against the upstream simulator.

Sign up → onboard (Amber token of a simulated household → its Amber site → Teslemetry key → its
Powerwall → sync on) → dashboard with prices and the pushed tariff → a setting changed (and one
rejected) → a custom TOU plan built, previewed, saved and pushed → the push in the event log and
its CSV export. Screenshots of each main page at phone and desktop width go to
test-artifacts/journey/ for a human to look at.

Celery runs eagerly: the sync that "Turn sync on" queues (and the push "Push to Powerwall" queues)
runs inside the request, after commit, exactly as the views queue it. That exercises the real
path (view → on_commit → task → simulator) instead of calling ``site_sync`` from the test. The
simulator's clock is pinned to the real time so Amber prices are fresh for the freshness rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from devices.models import Site
from households.models import Event
from ops.devrun import simulator_environment
from powersync_site.celery import app as celery_app
from simulator import SimulatorThread
from tariffs.engine.custom_tou import schedule_from_dict
from tariffs.engine.fingerprint import tariff_fingerprint
from tariffs.engine.tesla_format import render_custom_tariff
from tariffs.models import CustomTouSchedule, TariffPush
from tests.automations.conftest import control

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "journey"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "a-Long-and-unusual-passphrase-42"
PLAN_NAME = "Journey evening peak"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    thread = SimulatorThread(households=2, seed=23, speed=1.0).start()
    yield thread
    thread.stop()


@pytest.fixture
def upstream(sim, settings, fernet_keys) -> Iterator[SimulatorThread]:
    """Settings → simulator at the real time; Celery tasks run in the request that queues them."""
    base = sim.base_urls["control"].removesuffix("/control")
    for name, value in simulator_environment(base).items():
        setattr(settings, name, value)
    settings.TESLA_CLIENT_ID = ""  # Teslemetry only: no "Connect Tesla" card
    control(sim, "/scenario", {"name": "normal"})
    control(sim, "/latency", {"amber_ms": 0, "tesla_ms": 0, "aemo_ms": 0})
    control(sim, "/clock", {"now": timezone.now().isoformat(), "speed": 1})
    control(sim, "/rate-limits", {"amber": {"enabled": False}, "teslemetry": {"enabled": False}})
    conf = celery_app.conf
    before = {name: conf.get(name) for name in ("task_always_eager", "task_eager_propagates")}
    conf.update(task_always_eager=True, task_eager_propagates=True)  # a failing task fails the page
    yield sim
    conf.update(before)


@pytest.fixture
def chromium() -> Iterator[Any]:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # ORM + Playwright's loop
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def submit(page: Any, selector: str) -> None:
    """Click a submit button and wait for the page the POST leads to."""
    with page.expect_navigation():
        page.click(selector)


def status_badge(page: Any, what: str) -> Any:
    """The badge of one row of the onboarding's connection list."""
    return page.locator("#connection-status li", has_text=what).locator(".badge")


def shoot(page: Any, name: str, viewport: dict[str, int], label: str) -> None:
    page.set_viewport_size(viewport)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)


def test_household_journey(live_server, chromium, upstream):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    simulated = control(upstream, "/households?limit=1")["households"][0]
    energy_site_id = str(simulated["energy_site_id"])
    page = chromium.new_page(viewport=PHONE, locale="en-AU")  # as an Australian household
    page.set_default_timeout(15_000)
    url = live_server.url

    # 1. Sign up: a new user and household, straight into onboarding.
    page.goto(f"{url}/accounts/signup/")
    page.fill("#id_username", "ada")
    page.fill("#id_email", "ada@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.fill("#id_household_name", "Lovelace home")
    submit(page, "button[type=submit]")
    assert page.url.endswith("/onboarding/")
    assert page.get_by_role("heading", name="Connect your home").is_visible()

    # 2. Onboarding against the simulator, each connection's status checked on the page.
    page.click("text=Amber Electric")
    page.wait_for_url("**/onboarding/amber/")
    assert page.locator("#amber-status").inner_text() == "Not checked"
    page.fill("#id_token", "psk_not-a-real-token")
    submit(page, "button:has-text('Check token')")
    assert "bad" in (page.locator("#amber-status").get_attribute("class") or "")
    assert page.locator(".banner.bad[role=alert]").is_visible()
    page.fill("#id_token", simulated["amber_token"])
    submit(page, "button:has-text('Check token')")
    amber_status = page.locator("#amber-status")
    assert "ok" in (amber_status.get_attribute("class") or "").split()
    assert amber_status.inner_text().startswith("Connected")
    shoot(page, "onboarding-amber", PHONE, "phone")
    page.fill("#id_name", "Home")
    page.check(f"input[name=amber_site_id][value='{simulated['amber_site_id']}']")
    submit(page, "button:has-text('Continue')")
    assert "/connect/" in page.url
    assert page.get_by_text("Amber connected.").is_visible()
    assert status_badge(page, "Prices").inner_text() == "Connected"
    assert "ok" in (status_badge(page, "Prices").get_attribute("class") or "").split()
    assert "bad" in (status_badge(page, "Tesla access").get_attribute("class") or "").split()
    assert "bad" in (status_badge(page, "Powerwall").get_attribute("class") or "").split()
    page.fill("#id_api_key", simulated["teslemetry_key"])
    submit(page, "button:has-text('Check and save')")
    assert page.url.endswith("/connect/powerwall/")
    assert page.get_by_text("Teslemetry connected.").is_visible()
    page.check(f"input[name=energy_site_id][value='{energy_site_id}']")
    submit(page, "button:has-text('Use this Powerwall')")
    assert page.url.endswith("/connect/finish/")
    for what, word in (
        ("Prices", "Connected"),
        ("Tesla access", "Connected"),
        ("Powerwall", "Chosen"),
    ):
        badge = status_badge(page, what)
        assert badge.inner_text() == word, what
        assert "ok" in (badge.get_attribute("class") or "").split(), what
    assert page.locator("#connection-status .badge.bad").count() == 0
    site = Site.objects.get(household__name="Lovelace home")
    assert site.tesla_energy_site_id == energy_site_id
    assert site.time_zone == simulated["time_zone"]
    assert not site.tou_sync_enabled

    # 3. + 4. Sync on: the eager sync fetches Amber prices and pushes a tariff, confirmed by
    # read-back; the dashboard shows the prices and the tariff the Powerwall holds.
    submit(page, "button:has-text('Turn sync on')")
    assert page.url.rstrip("/").endswith(f"/sites/{site.pk}")
    assert page.get_by_text("Sync is on.").is_visible()
    synced = TariffPush.objects.get(site=site)
    assert synced.status == TariffPush.Status.CONFIRMED, synced.detail
    assert page.locator(".badge", has_text="TOU sync on").is_visible()
    assert page.locator("[data-live=buy]").inner_text().strip() not in ("", "\N{EN DASH}")
    assert page.locator("#price-chart").is_visible()
    tariff_card = page.locator("section[aria-labelledby=tariff-h]")
    assert tariff_card.locator(".badge", has_text="Confirmed").is_visible()
    assert "confirmed by read-back" in tariff_card.inner_text()
    assert tariff_card.locator("svg").count() >= 1
    assert tariff_card.locator("tbody tr").count() == 48

    # 5. Settings: spike detection on with a threshold; an out-of-range value is refused.
    page.goto(f"{url}/sites/{site.pk}/settings/")
    page.check("#id_spike_detection_enabled")
    page.fill("#id_spike_threshold_dollars_per_mwh", "450")
    submit(page, "button:has-text('Save settings')")
    assert page.get_by_text("Settings saved.").is_visible()
    site.refresh_from_db()
    assert site.spike_detection_enabled
    assert site.spike_threshold_dollars_per_mwh == 450
    page.fill("#id_spike_threshold_dollars_per_mwh", "50000")
    submit(page, "button:has-text('Save settings')")
    assert page.get_by_text("Nothing was saved.").is_visible()
    field = page.locator(
        ".field.has-error", has=page.locator("#id_spike_threshold_dollars_per_mwh")
    )
    assert "20000" in field.locator(".errorlist").inner_text()
    field.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "settings-error-phone.png"))  # the message by its field
    site.refresh_from_db()
    assert site.spike_threshold_dollars_per_mwh == 450

    # 6. Build a custom plan with the builder, preview the week, save it, push it.
    page.goto(f"{url}/tou/new/")
    page.locator("#builder").wait_for(state="visible")
    page.get_by_label("Plan name").fill(PLAN_NAME)
    page.get_by_label("Buy c/kWh").first.fill("52.5")
    submit(page, "button[value=preview]")
    assert page.locator("#engine-error").count() == 0
    assert page.locator("#tou-preview tbody tr").count() == 7
    assert page.locator("#tou-preview tbody td").count() == 7 * 48
    submit(page, "button[value=save]")
    assert page.url.endswith("/tou/")
    assert page.get_by_text(f"Saved “{PLAN_NAME}”.").is_visible()
    schedule = CustomTouSchedule.objects.get(household=site.household)
    assert schedule.name == PLAN_NAME
    expected = tariff_fingerprint(render_custom_tariff(schedule_from_dict(schedule.definition)))
    page.click("text=Edit and preview")
    page.wait_for_url(f"**/tou/{schedule.pk}/")
    assert page.locator("#tou-preview tbody tr").count() == 7
    page.select_option("#push-site", str(site.pk))
    submit(page, "#push-button")
    held_text = f"Putting plan “{PLAN_NAME}” on Home, held until you resume price sync."
    assert page.get_by_text(held_text).is_visible()
    held = control(upstream, f"/tesla/sites/{energy_site_id}")["tariff_content_v2"]
    assert held
    assert tariff_fingerprint(held) == expected
    pushed = TariffPush.objects.filter(site=site, reason=TariffPush.Reason.CUSTOM).get()
    assert pushed.status == TariffPush.Status.CONFIRMED
    assert pushed.fingerprint == expected
    # The dashboard says who holds the tariff, what waits behind, and offers the way back.
    headline = page.locator("[data-live=control-headline]")
    assert headline.inner_text() == f"Your plan “{PLAN_NAME}”, held until you resume"
    assert page.locator("#control-waiting li[data-intent=routine]").is_visible()
    shoot(page, "dashboard-held", PHONE, "phone")

    # 7. The hold in the event log, and the CSV export of it.
    page.goto(f"{url}/events/")
    row = page.locator("#event-table tbody tr", has_text=f"Your plan “{PLAN_NAME}”").filter(
        has_text="Tariff pushed and confirmed"
    )
    assert row.count() == 1
    assert row.locator(".badge.ok").is_visible()
    decisions = page.locator("#event-table tbody td.what").all_inner_texts()
    confirmed = next(i for i, d in enumerate(decisions) if PLAN_NAME in d and "confirmed" in d)
    requested = next(
        i for i, d in enumerate(decisions) if PLAN_NAME in d and "put on the Powerwall" in d
    )
    assert confirmed < requested  # newest first: the hold is logged before its push runs
    csv_href = page.get_by_role("link", name="Download CSV").get_attribute("href")
    assert csv_href
    export = page.request.get(f"{url}{csv_href}")
    assert export.status == 200
    assert export.headers["content-type"].startswith("text/csv")
    body = export.text()
    assert body.splitlines()[0].startswith("time_utc,time_local,site,automation")
    assert f"Your plan “{PLAN_NAME}”" in body
    assert Event.objects.filter(site=site, decision="Tariff pushed and confirmed").count() == 2

    # The household resumes price sync: live prices take the tariff again, from fresh prices.
    page.goto(f"{url}/sites/{site.pk}/")
    submit(page, "#resume-sync button")
    assert page.get_by_text("Live price sync takes over again.").is_visible()
    headline = page.locator("[data-live=control-headline]")
    assert headline.inner_text().startswith("Live price sync from Amber Electric")
    assert page.locator("#resume-sync").count() == 0
    resumed = TariffPush.objects.filter(site=site).latest("pk")
    assert (resumed.reason, resumed.status) == ("resume", TariffPush.Status.CONFIRMED)
    held = control(upstream, f"/tesla/sites/{energy_site_id}")["tariff_content_v2"]
    assert tariff_fingerprint(held) == resumed.fingerprint != expected

    # 8. Screenshots of the main pages at both widths; nothing wider than a phone's screen.
    pages = {
        "dashboard": f"/sites/{site.pk}/",
        "settings": f"/sites/{site.pk}/settings/",
        "tou-builder": f"/tou/{schedule.pk}/",
        "events": "/events/",
        "onboarding-connect": f"/sites/{site.pk}/connect/",
        "onboarding-finish": f"/sites/{site.pk}/connect/finish/",
    }
    too_wide = {}
    for name, path in pages.items():
        page.set_viewport_size(PHONE)
        page.goto(f"{url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[name] = width
        shoot(page, name, PHONE, "phone")
        shoot(page, name, DESKTOP, "desktop")
    assert not too_wide, f"pages wider than the phone's 390 px: {too_wide}"
