from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

from households.models import Membership
from tests.factories import UserFactory
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("web:login")


def test_sign_up_creates_a_household_with_the_user_as_owner_and_logs_in():
    client = Client()
    response = client.post(
        reverse("web:signup"),
        {
            "username": "ada",
            "email": "Ada@Example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "household_name": "Lovelace home",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("web:onboarding")
    user = User.objects.get(username="ada")
    assert user.email == "ada@example.com"
    membership = Membership.objects.get(user=user)
    assert membership.role == Membership.Role.OWNER
    assert membership.household.name == "Lovelace home"
    assert client.get(reverse("web:onboarding")).status_code == 200


def test_sign_up_errors_are_shown_next_to_the_field_and_nothing_is_created():
    response = Client().post(
        reverse("web:signup"),
        {"username": "bob", "email": "not-an-email", "password1": "short", "password2": "other"},
    )

    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
    assert not User.objects.filter(username="bob").exists()


def test_login_and_logout():
    user = UserFactory.create()
    user.set_password(PASSWORD)
    user.save()
    client = Client()

    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("web:household")).status_code == 200

    assert client.post(reverse("web:logout")).status_code == 302
    assert client.get(reverse("web:household")).status_code == 302


def test_login_is_throttled_per_username_and_ip_after_five_failures(settings):
    settings.LOGIN_THROTTLE_MAX_FAILURES = 5
    user = UserFactory.create()
    user.set_password(PASSWORD)
    user.save()
    client = Client()

    statuses = [
        client.post(LOGIN, {"username": user.username, "password": "wrong"}).status_code
        for _ in range(5)
    ]
    assert statuses == [400, 400, 400, 400, 429]

    blocked = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert blocked.status_code == 429
    assert b"Too many failed attempts" in blocked.content
    assert "_auth_user_id" not in client.session

    # Another address is not blocked for the same account.
    other_ip = Client(REMOTE_ADDR="10.9.8.7")
    ok = other_ip.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert ok.status_code == 302


def test_password_reset_sends_a_working_link():
    user = UserFactory.create(email="reset@example.com")
    client = Client()

    response = client.post(reverse("web:password_reset"), {"email": "reset@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", str(mail.outbox[0].body))
    assert link is not None

    page = client.get(link.group(1), follow=True)
    assert page.status_code == 200
    new = "Another-long-passphrase-77"
    done = client.post(page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)


PAGES_NEEDING_LOGIN = [
    ("web:home", {}),
    ("web:household", {}),
    ("web:security", {}),
    ("web:onboarding", {}),
    ("web:onboarding_amber", {}),
    ("web:onboarding_aemo", {}),
    ("web:onboarding_custom", {}),
    ("web:site_connect", {"site_id": 1}),
    ("web:site_energy_site", {"site_id": 1}),
    ("web:site_finish", {"site_id": 1}),
    ("web:dashboard", {"site_id": 1}),
    ("web:dashboard_live", {"site_id": 1}),
    ("web:site_settings", {"site_id": 1}),
    ("web:schedules", {}),
    ("web:schedule_new", {}),
    ("web:schedule_edit", {"schedule_id": 1}),
    ("web:profiles", {}),
    ("web:profile_detail", {"profile_id": 1}),
    ("web:events", {}),
    ("web:events_csv", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), PAGES_NEEDING_LOGIN)
def test_every_household_page_requires_login(name, kwargs):
    response = Client().get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_forms_carry_a_csrf_token(mine):
    client = Client(enforce_csrf_checks=True)
    client.force_login(mine.user)
    page = client.get(reverse("web:site_settings", args=[mine.site.pk]))
    assert b"csrfmiddlewaretoken" in page.content
    refused = client.post(reverse("web:site_settings", args=[mine.site.pk]), {"name": "x"})
    assert refused.status_code == 403


def test_api_token_is_created_shown_once_used_and_revoked_from_the_security_page(mine):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    url = reverse("web:security")
    assert b"Create a token" in mine.client.get(url).content
    response = mine.client.post(url, {"action": "token_issue"}, follow=True)
    key = Token.objects.get(user=mine.user).key
    assert key in response.content.decode()  # shown once, on the page after creating it
    assert key not in mine.client.get(url).content.decode()  # and never again

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/sites/").status_code == 200

    mine.client.post(url, {"action": "token_revoke"})
    assert not Token.objects.filter(user=mine.user).exists()
    assert api.get("/api/v1/sites/").status_code == 401
