"""The upstream HTTP session reads the environment once, not on every request."""

from __future__ import annotations

import pytest
import responses
from django.db import connection

from ops.http import _new_session, database_pooled


@pytest.fixture
def no_proxy_environment(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    return monkeypatch


def test_without_a_proxy_the_environment_is_not_walked_per_request(no_proxy_environment):
    no_proxy_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/bundle.pem")
    session = _new_session()
    assert session.trust_env is False
    # The CA bundle variable still applies, read once.
    assert session.verify == "/etc/ssl/certs/bundle.pem"


def test_without_a_bundle_variable_certificates_are_verified_by_default(no_proxy_environment):
    no_proxy_environment.delenv("REQUESTS_CA_BUNDLE", raising=False)
    no_proxy_environment.delenv("CURL_CA_BUNDLE", raising=False)
    session = _new_session()
    assert session.verify is True


def test_a_configured_proxy_keeps_requests_per_request_rules(no_proxy_environment):
    no_proxy_environment.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    no_proxy_environment.setenv("NO_PROXY", "localhost")
    session = _new_session()
    assert session.trust_env is True
    settings = session.merge_environment_settings(
        "https://api.amber.com.au/v1/sites", {}, None, None, None
    )
    assert settings["proxies"]["https"] == "http://proxy.internal:3128"


needs_pool = pytest.mark.skipif(
    not database_pooled(),
    reason="needs PostgreSQL with DATABASE_POOL_MAX_SIZE > 0, as CI runs (the default there)",
)


@needs_pool
@responses.activate
@pytest.mark.django_db(transaction=True)
def test_with_a_pool_a_thread_hands_its_connection_back_while_it_waits_upstream():
    responses.get("https://api.amber.com.au/v1/sites", json=[])
    connection.ensure_connection()
    assert connection.connection is not None
    _new_session().get("https://api.amber.com.au/v1/sites", timeout=5)
    assert connection.connection is None  # back in the pool; the next query takes one again
    assert connection.cursor().execute("SELECT 1") is not None


@needs_pool
@responses.activate
@pytest.mark.django_db
def test_a_connection_inside_a_transaction_is_kept():
    responses.get("https://api.amber.com.au/v1/sites", json=[])
    connection.ensure_connection()
    assert connection.in_atomic_block  # the test's own transaction
    _new_session().get("https://api.amber.com.au/v1/sites", timeout=5)
    assert connection.connection is not None


def test_without_a_pool_nothing_is_released(monkeypatch):
    monkeypatch.setattr("ops.http.database_pooled", lambda: False)
    adapter = _new_session().get_adapter("https://api.amber.com.au/")
    assert type(adapter).__name__ == "HTTPAdapter"


def test_settings_pool_postgresql_only(settings):
    engine = settings.DATABASES["default"]["ENGINE"]
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if engine.endswith("postgresql") and settings.DATABASE_POOL_MAX_SIZE:
        assert pool["max_size"] == settings.DATABASE_POOL_MAX_SIZE
        assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
    else:
        assert pool is None
