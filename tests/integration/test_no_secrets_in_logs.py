"""No token, key, secret or code of a household reaches the logs (or error messages), even at
DEBUG, across a run of real client calls against the simulator: success and error paths."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devices.providers import tesla
from pricing.providers import aemo, amber

from .conftest import Sim
from .test_amber_live import Recorder, fast_config
from .test_tesla_oauth import oauth_client
from .test_tesla_teslemetry import sample_tariff, teslemetry

pytestmark = pytest.mark.integration


def run_live_listener(sim: Sim, token: str, site_id: str) -> amber.LiveState:
    async def scenario() -> amber.LiveState:
        recorder = Recorder()
        listener = amber.AmberLiveListener(
            token,
            site_id,
            on_prices=recorder.on_prices,
            on_state=recorder.on_state,
            config=fast_config(sim),
        )
        task = asyncio.create_task(listener.run())
        await recorder.wait_for_live(1)
        await asyncio.to_thread(sim.control, "POST", "/amber-ws/push", {"site_id": site_id})
        await asyncio.wait_for(recorder.updates.get(), 10)
        listener.stop()
        return await asyncio.wait_for(task, 10)

    return asyncio.run(scenario())


def test_no_secret_in_debug_logs_or_error_messages(
    sim: Sim, session: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    household = sim.household(3)
    secrets = [
        household["amber_token"],
        household["teslemetry_key"],
        household["tesla_client_secret"],
    ]
    errors: list[Exception] = []

    # Amber REST: success, a 401 (the wrong token is a secret too), a 429.
    client = amber.AmberClient(
        household["amber_token"], session=session, base_url=sim.urls["amber"]
    )
    client.list_sites()
    client.get_current_prices(household["amber_site_id"], next_intervals=4, resolution_min=30)
    wrong_token = household["amber_token"][:-2] + "zz"
    secrets.append(wrong_token)
    with pytest.raises(amber.AuthFailed) as auth_error:
        amber.AmberClient(wrong_token, session=session, base_url=sim.urls["amber"]).list_sites()
    errors.append(auth_error.value)
    sim.control("POST", "/rate-limits", {"amber": {"enabled": True, "limit": 1, "window_s": 60}})
    client.list_sites()
    with pytest.raises(amber.RateLimited) as limited:
        client.list_sites()
    errors.append(limited.value)

    # Amber live WebSocket (the handshake carries the token; websockets logs headers at DEBUG).
    state = run_live_listener(sim, household["amber_token"], household["amber_site_id"])
    assert state is amber.LiveState.STOPPED

    # AEMO needs no secret, but its calls share the log.
    aemo.AemoClient(session=session, base_url=sim.urls["aemo"]).get_current_prices()

    # Teslemetry: metadata, reads, a command with a tariff, an error.
    site_id = household["energy_site_id"]
    energy = teslemetry(sim, household, session)
    energy.site_info(site_id)
    energy.set_time_of_use_settings(site_id, sample_tariff())
    sim.scenario("tesla_offline")
    with pytest.raises(tesla.DeviceOffline) as offline:
        energy.live_status(site_id)
    errors.append(offline.value)
    sim.scenario("normal")
    with pytest.raises(tesla.AuthFailed) as bad_key:
        tesla.TeslaEnergyClient(
            access_token=household["teslemetry_key"] + "x",
            session=session,
            base_url=sim.urls["teslemetry"],
        ).products()
    secrets.append(household["teslemetry_key"] + "x")
    errors.append(bad_key.value)

    # Fleet OAuth: code, tokens, a refresh and a refused reuse.
    oauth = oauth_client(sim, household, session)
    request = oauth.authorization_url()
    reply = session.get(request.url, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(reply.headers["Location"]).query)["code"][0]
    tokens = oauth.exchange_code(code, code_verifier=request.code_verifier)
    assert tokens.refresh_token is not None
    refreshed = oauth.refresh(tokens.refresh_token)
    with pytest.raises(tesla.AuthFailed) as reused:
        oauth.refresh(tokens.refresh_token)
    errors.append(reused.value)
    fleet = tesla.TeslaEnergyClient(
        access_token=refreshed.access_token, session=session, base_url=sim.urls["tesla_fleet"]
    )
    fleet.set_backup_reserve(site_id, 25)
    secrets += [
        code,
        request.code_verifier or "",
        tokens.access_token,
        tokens.refresh_token,
        refreshed.access_token,
        refreshed.refresh_token or "",
    ]

    # The run did log at DEBUG, from our clients and from the libraries underneath.
    loggers = {record.name for record in caplog.records}
    assert {"pricing.providers.amber.client", "devices.providers.tesla"} <= loggers
    assert any(name.startswith("urllib3") for name in loggers)
    assert any(name.startswith("pricing.providers.amber.live") for name in loggers)
    messages = [record.getMessage() for record in caplog.records]
    assert any("Bearer ***" in message for message in messages)  # the handshake, masked
    texts = [*messages, caplog.text, *(str(error) for error in errors)]
    texts += [repr(error) for error in errors] + [repr(client), repr(energy), repr(tokens)]
    for secret in filter(None, secrets):
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"a secret of length {len(secret)} leaked into {len(leaks)} texts"
