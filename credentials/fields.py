"""EncryptedTextField: a text column stored as a Fernet token (see credentials.keys).

"Not set" is stored as NULL (an empty string is saved as NULL too), so the admin and selectors can
tell set from unset with an `isnull` lookup without decrypting anything. Encrypted values cannot be
searched or compared in SQL, so every other lookup is refused.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from credentials import keys


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with the credentials key (Fernet)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return None
        return keys.encrypt(str(value))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return None
        return keys.decrypt(value)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)
