from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.management import call_command

URL = "/.well-known/appspecific/com.tesla.3p.public-key.pem"


def test_public_key_is_served_as_pem_and_generated_once_in_development(client, settings, tmp_path):
    settings.TESLA_PARTNER_KEY_FILE = tmp_path / "partner.pem"
    first = client.get(URL)
    assert first.status_code == 200
    assert first["Content-Type"] == "application/x-pem-file"
    key = load_pem_public_key(first.content)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"
    assert b"PRIVATE" not in first.content
    assert client.get(URL).content == first.content  # the same key, not a new one per request
    assert settings.TESLA_PARTNER_KEY_FILE.stat().st_mode & 0o777 == 0o600


def test_production_without_a_key_is_404(client, settings, tmp_path):
    settings.TESLA_PARTNER_KEY_FILE = tmp_path / "absent.pem"
    settings.IS_PRODUCTION = True
    assert client.get(URL).status_code == 404
    assert not settings.TESLA_PARTNER_KEY_FILE.exists()


def test_generate_command_refuses_to_replace_a_key(settings, tmp_path, capsys):
    settings.TESLA_PARTNER_KEY_FILE = tmp_path / "partner.pem"
    call_command("tesla_partner_key", "--generate")
    assert "BEGIN PUBLIC KEY" in capsys.readouterr().out
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="refusing to replace"):
        call_command("tesla_partner_key", "--generate")
