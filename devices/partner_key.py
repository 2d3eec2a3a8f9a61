"""The Tesla partner key pair of this deployment.

Tesla fetches the public half from /.well-known/appspecific/com.tesla.3p.public-key.pem when the
domain is registered. The private key lives in TESLA_PARTNER_KEY_FILE (PEM); development generates
one there on first use, production must provide it (`manage.py tesla_partner_key --generate`).
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from django.conf import settings

from devices.providers.tesla.partner_key import (
    generate_partner_key_pair,
    public_key_pem_from_private,
)


class PartnerKeyMissing(Exception):
    pass


def partner_key_generate(path: Path) -> None:
    """Write a new private key to ``path`` (0600); refuses to overwrite an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(generate_partner_key_pair().private_key_pem)


def partner_public_key_pem() -> bytes:
    path = Path(settings.TESLA_PARTNER_KEY_FILE)
    if not path.exists():
        if settings.IS_PRODUCTION:
            raise PartnerKeyMissing(f"no partner key at {path} (TESLA_PARTNER_KEY_FILE)")
        with suppress(FileExistsError):  # another process generated it a moment ago
            partner_key_generate(path)
    return public_key_pem_from_private(path.read_bytes())
