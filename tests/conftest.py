from __future__ import annotations

import pytest
from cryptography.fernet import Fernet


@pytest.fixture
def fernet_keys(settings):
    """Two fresh keys, installed as the configured list [old]; returns (old, new)."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [old]
    return old, new
