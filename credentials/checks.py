"""Start-up checks: `migrate`, `check --database default` and the worker's start run them, so a
wrong or malformed CREDENTIALS_ENCRYPTION_KEYS stops the service with the setting's name."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register

from credentials import keys, services

HINT = (
    "CREDENTIALS_ENCRYPTION_KEYS lists Fernet keys newest first; keep every key that encrypted "
    "stored data until `manage.py rotate_credentials_key` has run."
)


@register(Tags.security)
def check_keys_parse(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    try:
        keys.cipher()
    except keys.CredentialKeyError as exc:
        return [Error(str(exc), hint=HINT, id="credentials.E001")]
    return []


@register(Tags.database)
def check_canary(app_configs: Any, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not databases or not services.encryption_canary_table_ready():
        return []
    try:
        services.encryption_canary_verify()
    except keys.CredentialKeyError as exc:
        return [Error(str(exc), hint=HINT, id="credentials.E002")]
    return []
