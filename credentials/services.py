"""Writes of the credentials app: the canary check and key rotation."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.db import DatabaseError, models, transaction
from django.db.models.functions import Cast

from credentials import keys
from credentials.fields import EncryptedTextField
from credentials.models import EncryptionCanary


def encryption_canary_verify() -> None:
    """Write the canary on first use; afterwards prove the configured keys still decrypt it.

    Raises:
        CredentialKeyError: the keys are malformed or cannot decrypt the canary.
    """
    try:
        canary = EncryptionCanary.objects.order_by("pk").first()
    except keys.CredentialKeyError as exc:
        raise keys.CredentialKeyError(f"Encryption canary check failed. {exc}") from exc
    if canary is None:
        EncryptionCanary.objects.create(value=EncryptionCanary.CANARY_PLAINTEXT)
        return
    if canary.value != EncryptionCanary.CANARY_PLAINTEXT:
        raise keys.CredentialKeyError(
            f"Encryption canary check failed: {keys.SETTING} decrypts it to the wrong value"
        )


def encryption_canary_table_ready() -> bool:
    try:
        EncryptionCanary.objects.exists()
    except DatabaseError:
        return False
    return True


@dataclass(frozen=True)
class RotationReport:
    checked: int
    rotated: int


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTextField)
    ]


def credentials_rotate(*, batch_size: int = 500) -> RotationReport:
    """Re-encrypt every stored secret under the newest key. Idempotent: values already under the
    newest key are left alone, so a second run rotates nothing."""
    cipher = keys.cipher()
    checked = rotated = 0
    for model, field in encrypted_fields():
        raw_rows = (
            model._default_manager.filter(**{f"{field.attname}__isnull": False})
            .annotate(raw=Cast(field.attname, output_field=models.TextField()))
            .values_list("pk", "raw")
            .iterator(chunk_size=batch_size)
        )
        for pk, raw in raw_rows:
            checked += 1
            if keys.is_under_newest_key(raw):
                continue
            try:
                new_token = cipher.rotate(raw.encode()).decode()
            except InvalidToken as exc:
                raise keys.CredentialKeyError(
                    f"{model.__name__}.{field.name} #{pk} cannot be decrypted with any key in "
                    f"{keys.SETTING}"
                ) from exc
            with transaction.atomic():
                model._default_manager.filter(pk=pk).update(
                    **{field.attname: models.Value(new_token, output_field=models.TextField())}
                )
            rotated += 1
    return RotationReport(checked=checked, rotated=rotated)
