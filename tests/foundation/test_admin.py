"""Every model has a working admin page, and no admin page shows a secret."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from credentials.models import SiteCredentials
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

SECRET = "psk_secret_value_that_must_never_render"


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-ops-12345")
    client.force_login(user)
    return client


def test_every_project_model_is_registered():
    project_apps = {"households", "credentials", "devices", "pricing", "tariffs", "ops"}
    from django.apps import apps

    missing = [
        m.__name__
        for m in apps.get_models()
        if m._meta.app_label in project_apps
        and m not in admin.site._registry
        and m.__name__ not in {"EncryptionCanary"}
    ]
    assert missing == []


def test_every_changelist_and_add_page_renders(staff_client, fernet_keys):
    SiteFactory.create()
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        response = staff_client.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert response.status_code == 200, info
        if model_admin.has_add_permission(response.wsgi_request):
            response = staff_client.get(reverse("admin:{}_{}_add".format(*info)))
            assert response.status_code == 200, info


def test_site_and_credentials_pages_never_render_secrets(staff_client, fernet_keys):
    site = SiteFactory.create()
    creds = SiteCredentials.objects.create(
        site=site, amber_token=SECRET, tesla_refresh_token=SECRET
    )
    for url in (
        reverse("admin:devices_site_change", args=[site.pk]),
        reverse("admin:credentials_sitecredentials_change", args=[creds.pk]),
        reverse("admin:credentials_sitecredentials_changelist"),
    ):
        body = staff_client.get(url).content.decode()
        assert SECRET not in body, url
    assert (
        "stored — leave blank to keep"
        in staff_client.get(
            reverse("admin:credentials_sitecredentials_change", args=[creds.pk])
        ).content.decode()
    )


def test_blank_secret_keeps_the_stored_value_and_clear_removes_it(staff_client, fernet_keys):
    site = SiteFactory.create()
    creds = SiteCredentials.objects.create(site=site, amber_token=SECRET)
    url = reverse("admin:credentials_sitecredentials_change", args=[creds.pk])
    form = {
        "amber_token": "",
        "teslemetry_api_key": "new-teslemetry-key",
        "tesla_access_token": "",
        "tesla_refresh_token": "",
        "fleet_client_secret": "",
        "tesla_token_expires_at_0": "",
        "tesla_token_expires_at_1": "",
    }
    assert staff_client.post(url, form).status_code == 302
    creds.refresh_from_db()
    assert (creds.amber_token, creds.teslemetry_api_key) == (SECRET, "new-teslemetry-key")

    assert staff_client.post(url, {**form, "clear_amber_token": "on"}).status_code == 302
    creds.refresh_from_db()
    assert creds.amber_token is None
    assert creds.teslemetry_api_key == "new-teslemetry-key"
