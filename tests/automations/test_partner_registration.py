"""Registering this deployment's domain with Tesla (Fleet API partner), against the simulator."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.integration


def test_register_domain_with_a_partner_token(upstream, household_upstream, settings, tmp_path):
    settings.TESLA_CLIENT_ID = household_upstream["tesla_client_id"]
    settings.TESLA_CLIENT_SECRET = household_upstream["tesla_client_secret"]
    settings.TESLA_PARTNER_KEY_FILE = tmp_path / "partner.pem"
    from io import StringIO

    out = StringIO()
    call_command(
        "tesla_partner_key", "--generate", "--register", "powersync.example.com", stdout=out
    )
    text = out.getvalue()
    assert "BEGIN PUBLIC KEY" in text
    assert "Registered powersync.example.com with Tesla" in text


def test_registration_without_an_app_is_a_clear_error(upstream, settings, tmp_path):
    settings.TESLA_CLIENT_ID = ""
    settings.TESLA_PARTNER_KEY_FILE = tmp_path / "partner.pem"
    with pytest.raises(CommandError, match="TESLA_CLIENT_ID"):
        call_command("tesla_partner_key", "--register", "powersync.example.com")


def test_wrong_client_secret_is_refused(upstream, household_upstream, settings, tmp_path):
    settings.TESLA_CLIENT_ID = household_upstream["tesla_client_id"]
    settings.TESLA_CLIENT_SECRET = "wrong-secret"
    settings.TESLA_PARTNER_KEY_FILE = tmp_path / "partner.pem"
    with pytest.raises(CommandError, match="Tesla refused"):
        call_command("tesla_partner_key", "--register", "powersync.example.com")
