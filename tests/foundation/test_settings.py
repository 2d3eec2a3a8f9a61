"""Settings come from the environment; production refuses to start without real secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from powersync_site import env

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "x" * 64
GOOD_KEY = "Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLXNlY3JldCE="


SHOW = "print(s.DEBUG, s.DATABASES['default']['ENGINE'])"


def load_settings(show: str = SHOW, **environ: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_ENV"}}
    clean.pop("CREDENTIALS_ENCRYPTION_KEYS", None)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import powersync_site.settings as s; {show}",
        ],
        cwd=ROOT,
        env={**clean, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_development_defaults_to_sqlite_and_debug():
    env_vars = {"DJANGO_ENV": "development"}
    result = load_settings(**env_vars, DATABASE_URL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3"]


def test_production_refuses_without_secret_key():
    result = load_settings(DJANGO_ENV="production", CREDENTIALS_ENCRYPTION_KEYS=GOOD_KEY)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_without_encryption_keys():
    result = load_settings(DJANGO_ENV="production", SECRET_KEY=GOOD_SECRET)
    assert result.returncode != 0
    assert "CREDENTIALS_ENCRYPTION_KEYS must be set in production" in result.stderr


def test_production_starts_with_both_and_turns_debug_off():
    result = load_settings(
        DJANGO_ENV="production",
        SECRET_KEY=GOOD_SECRET,
        CREDENTIALS_ENCRYPTION_KEYS=GOOD_KEY,
        DATABASE_URL="postgres://u@127.0.0.1:5432/db",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "django.db.backends.postgresql"]


@pytest.mark.parametrize("debug", ["true", "1", "yes"])
def test_production_refuses_debug(debug):
    result = load_settings(
        DJANGO_ENV="production",
        SECRET_KEY=GOOD_SECRET,
        CREDENTIALS_ENCRYPTION_KEYS=GOOD_KEY,
        DEBUG=debug,
    )
    assert result.returncode != 0
    assert "DEBUG cannot be on in production" in result.stderr


def test_production_allows_its_hosts_and_loopback_and_pools_postgresql():
    result = load_settings(
        "print(','.join(s.ALLOWED_HOSTS)); d = s.DATABASES['default'];"
        " print(d['OPTIONS']['pool']['max_size'], d['CONN_MAX_AGE'])",
        DJANGO_ENV="production",
        SECRET_KEY=GOOD_SECRET,
        CREDENTIALS_ENCRYPTION_KEYS=GOOD_KEY,
        DATABASE_URL="postgres://u@127.0.0.1:5432/db",
        ALLOWED_HOSTS="powersync.example.com",
        DATABASE_POOL_MAX_SIZE="45",
    )
    assert result.returncode == 0, result.stderr
    hosts, pool = result.stdout.splitlines()
    assert hosts.split(",") == ["powersync.example.com", "localhost", "127.0.0.1", "[::1]"]
    assert pool.split() == ["45", "0"]  # a pool excludes persistent connections


def test_unknown_environment_name_is_refused():
    result = load_settings(DJANGO_ENV="staging")
    assert "DJANGO_ENV must be development or production" in result.stderr


def test_typed_helpers(monkeypatch):
    monkeypatch.setenv("PS_FLAG", "yes")
    monkeypatch.setenv("PS_NUM", "42")
    monkeypatch.setenv("PS_LIST", "a, b,,c ")
    assert env.env_bool("PS_FLAG") is True
    assert env.env_int("PS_NUM", 1) == 42
    assert env.env_list("PS_LIST") == ["a", "b", "c"]
    assert env.env_int("PS_MISSING", 7) == 7
    monkeypatch.setenv("PS_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="PS_FLAG must be true/false"):
        env.env_bool("PS_FLAG")
    monkeypatch.setenv("PS_NUM", "4x")
    with pytest.raises(ImproperlyConfigured, match="PS_NUM must be an integer"):
        env.env_int("PS_NUM", 1)
    assert env.env_choice("PS_MISSING", "b", ("a", "b")) == "b"
    monkeypatch.setenv("PS_PICK", " a ")
    assert env.env_choice("PS_PICK", "b", ("a", "b")) == "a"
    monkeypatch.setenv("PS_PICK", "c")
    with pytest.raises(ImproperlyConfigured, match="PS_PICK must be one of a, b, got 'c'"):
        env.env_choice("PS_PICK", "b", ("a", "b"))


def test_env_example_lists_every_variable_settings_read():
    settings_source = (ROOT / "powersync_site" / "settings.py").read_text()
    import re

    read = set(re.findall(r'env_(?:str|bool|int|list|choice)\(\s*"([A-Z_]+)"', settings_source))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read, "no variables found in settings.py"
    assert read - listed == set()
