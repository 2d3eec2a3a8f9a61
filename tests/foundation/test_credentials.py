"""Credentials are encrypted at rest, a wrong key is a clear error, keys rotate."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from credentials import checks, keys, services
from credentials.models import EncryptionCanary, SiteCredentials
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

TOKEN = "psk_0123456789abcdef0123456789abcdef"


def raw_column(pk: int, column: str) -> str | None:
    table = SiteCredentials._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_secret_is_stored_encrypted_and_read_back(fernet_keys):
    creds = SiteCredentials.objects.create(site=SiteFactory.create(), amber_token=TOKEN)
    stored = raw_column(creds.pk, "amber_token")
    assert stored is not None
    assert TOKEN not in stored
    assert Fernet(fernet_keys[0].encode()).decrypt(stored.encode()).decode() == TOKEN
    assert SiteCredentials.objects.get(pk=creds.pk).amber_token == TOKEN


def test_unset_secret_is_null_not_ciphertext(fernet_keys):
    creds = SiteCredentials.objects.create(site=SiteFactory.create(), amber_token="")
    assert raw_column(creds.pk, "amber_token") is None
    assert SiteCredentials.objects.filter(amber_token__isnull=True).count() == 1


def test_encrypted_fields_refuse_value_lookups(fernet_keys):
    with pytest.raises(Exception, match="Unsupported lookup 'exact'"):
        SiteCredentials.objects.filter(amber_token=TOKEN).count()


def test_wrong_key_is_a_clear_error_naming_the_setting(settings, fernet_keys):
    creds = SiteCredentials.objects.create(site=SiteFactory.create(), amber_token=TOKEN)
    settings.CREDENTIALS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(keys.CredentialKeyError, match="CREDENTIALS_ENCRYPTION_KEYS") as caught:
        SiteCredentials.objects.get(pk=creds.pk)
    assert "gAAAA" not in str(caught.value)  # no ciphertext handed back in the message


def test_canary_written_once_then_detects_a_wrong_key(settings, fernet_keys):
    assert checks.check_canary(None, databases=["default"]) == []
    assert EncryptionCanary.objects.count() == 1
    assert checks.check_canary(None, databases=["default"]) == []
    assert EncryptionCanary.objects.count() == 1

    settings.CREDENTIALS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    errors = checks.check_canary(None, databases=["default"])
    assert [e.id for e in errors] == ["credentials.E002"]
    assert "CREDENTIALS_ENCRYPTION_KEYS" in errors[0].msg
    assert "canary" in errors[0].msg


def test_migrate_refuses_to_run_with_the_wrong_key(settings, fernet_keys):
    services.encryption_canary_verify()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError, match=r"credentials\.E002"):
        call_command("check", databases=["default"])


def test_malformed_key_names_the_setting_and_position(settings):
    settings.CREDENTIALS_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), "not-a-key"]
    errors = checks.check_keys_parse(None)
    assert [e.id for e in errors] == ["credentials.E001"]
    assert "CREDENTIALS_ENCRYPTION_KEYS: key #2 is not a valid Fernet key" in errors[0].msg


def test_development_key_is_generated_once_into_the_data_dir(settings, tmp_path):
    settings.CREDENTIALS_ENCRYPTION_KEYS = []
    settings.CREDENTIALS_DEV_KEY_FILE = tmp_path / "credentials.key"
    first = keys.configured_keys()
    assert settings.CREDENTIALS_DEV_KEY_FILE.stat().st_mode & 0o777 == 0o600
    assert keys.configured_keys() == first
    Fernet(first[0].encode())  # a valid key


def test_production_without_keys_is_refused(settings):
    settings.CREDENTIALS_ENCRYPTION_KEYS = []
    settings.IS_PRODUCTION = True
    with pytest.raises(keys.CredentialKeyError, match="CREDENTIALS_ENCRYPTION_KEYS is empty"):
        keys.configured_keys()


def test_rotation_re_encrypts_everything_under_the_newest_key(settings, fernet_keys):
    old, new = fernet_keys
    creds = SiteCredentials.objects.create(
        site=SiteFactory.create(), amber_token=TOKEN, tesla_refresh_token="refresh-1"
    )
    services.encryption_canary_verify()

    settings.CREDENTIALS_ENCRYPTION_KEYS = [new, old]
    report = services.credentials_rotate()
    assert (report.checked, report.rotated) == (3, 3)  # two secrets + the canary
    assert services.credentials_rotate().rotated == 0  # idempotent

    settings.CREDENTIALS_ENCRYPTION_KEYS = [new]  # the old key can now go
    fresh = SiteCredentials.objects.get(pk=creds.pk)
    assert (fresh.amber_token, fresh.tesla_refresh_token) == (TOKEN, "refresh-1")
    services.encryption_canary_verify()


def test_rotate_command_reports_counts(settings, fernet_keys):
    old, new = fernet_keys
    SiteCredentials.objects.create(site=SiteFactory.create(), teslemetry_api_key="tm-key")
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new, old]
    from io import StringIO

    out = StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "re-encrypted 1 under the newest key" in out.getvalue()


def test_repr_and_logs_never_show_a_secret(fernet_keys, caplog):
    creds = SiteCredentials.objects.create(site=SiteFactory.create(), amber_token=TOKEN)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("loaded %r", creds)
    assert TOKEN not in repr(creds)
    assert TOKEN not in str(creds)
    assert TOKEN not in caplog.text


def test_a_worker_with_the_wrong_key_refuses_to_start(settings, fernet_keys, caplog):
    """The worker's start-up check (on Celery's worker_init) ends the process on a wrong key,
    with the setting's name in the log: Celery logs and ignores an Exception raised by a
    signal handler, but lets SystemExit through."""
    from celery.utils.dispatch import Signal

    from tasks.ops import verify_credentials_key

    services.encryption_canary_verify()
    verify_credentials_key()  # the right key: the worker starts
    settings.CREDENTIALS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with caplog.at_level(logging.CRITICAL), pytest.raises(SystemExit) as exited:
        verify_credentials_key()
    assert exited.value.code == 1
    assert "CREDENTIALS_ENCRYPTION_KEYS" in caplog.text

    signal = Signal(name="like_worker_init")
    signal.connect(verify_credentials_key, weak=False)
    with pytest.raises(SystemExit):
        signal.send(sender=None)
