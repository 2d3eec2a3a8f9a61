"""The one model of the web app: a user's TOTP second factor."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from credentials.fields import EncryptedTextField


class TotpDevice(models.Model):
    """A user's authenticator secret (encrypted at rest). Login asks for a code only once
    ``confirmed_at`` is set, i.e. after the user proved their app shows the right codes."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = EncryptedTextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(
        default=0, help_text="Highest accepted TOTP time step; older or equal steps are refused."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"second factor of {self.user}"

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"<TotpDevice user={self.user_id} confirmed={self.confirmed_at is not None}>"
