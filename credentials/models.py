"""Secrets of each site, encrypted at rest (credentials.fields.EncryptedTextField)."""

from __future__ import annotations

from django.db import models

from credentials.fields import EncryptedTextField

SECRET_FIELDS = (
    "amber_token",
    "teslemetry_api_key",
    "tesla_access_token",
    "tesla_refresh_token",
    "fleet_client_secret",
)


class SiteCredentials(models.Model):
    site = models.OneToOneField(
        "devices.Site", on_delete=models.CASCADE, related_name="credentials"
    )
    amber_token = EncryptedTextField()
    teslemetry_api_key = EncryptedTextField()
    tesla_access_token = EncryptedTextField()
    tesla_refresh_token = EncryptedTextField(
        help_text="Single-use: each refresh returns a new one that must replace it atomically."
    )
    tesla_token_expires_at = models.DateTimeField(null=True, blank=True)
    fleet_client_secret = EncryptedTextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "site credentials"

    def __str__(self) -> str:
        return f"credentials of site {self.site_id}"

    def __repr__(self) -> str:  # never let a secret reach a log through repr()
        return f"<SiteCredentials site={self.site_id}>"


class EncryptionCanary(models.Model):
    """One row holding a known value encrypted with the key in force when it was written.

    If it no longer decrypts, the configured keys are wrong (credentials.checks fails start-up).
    """

    CANARY_PLAINTEXT = "powersync-encryption-canary"

    value = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return "encryption canary"
