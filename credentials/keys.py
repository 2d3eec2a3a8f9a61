"""The credential encryption keys and the one place that encrypts and decrypts with them.

CREDENTIALS_ENCRYPTION_KEYS is a list of Fernet keys, newest first: the newest encrypts, every key
decrypts (MultiFernet), so a new key can be put in front and old data re-encrypted later with
`manage.py rotate_credentials_key`. In development, when the setting is empty, one key is generated
on first use into CREDENTIALS_DEV_KEY_FILE (DATA_DIR/credentials.key, mode 0600).

Anything that cannot be decrypted raises CredentialKeyError, which names the setting: ciphertext is
never handed back as if it were a token.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SETTING = "CREDENTIALS_ENCRYPTION_KEYS"


class CredentialKeyError(ImproperlyConfigured):
    """The configured keys are malformed or cannot decrypt stored credentials."""


def _dev_key(path: Path) -> str:
    """Read the development key, creating it exactly once even if several processes race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        key = Fernet.generate_key().decode()
        handle.write(key + "\n")
    return key


def configured_keys() -> tuple[str, ...]:
    keys = tuple(settings.CREDENTIALS_ENCRYPTION_KEYS)
    if keys:
        return keys
    if getattr(settings, "IS_PRODUCTION", False):
        raise CredentialKeyError(f"{SETTING} is empty: set at least one Fernet key")
    return (_dev_key(Path(settings.CREDENTIALS_DEV_KEY_FILE)),)


@functools.lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except ValueError as exc:
            raise CredentialKeyError(
                f"{SETTING}: key #{position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes; make one with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`)'
            ) from exc
    return MultiFernet(fernets)


def cipher() -> MultiFernet:
    return _multi_fernet(configured_keys())


def newest_cipher() -> Fernet:
    return Fernet(configured_keys()[0].encode())


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialKeyError(
            f"Stored credentials cannot be decrypted with {SETTING}: the key is wrong, or an older "
            "key that encrypted them was removed. Put the old key back after the new one."
        ) from exc


def is_under_newest_key(token: str) -> bool:
    try:
        newest_cipher().decrypt(token.encode())
    except InvalidToken:
        return False
    return True
