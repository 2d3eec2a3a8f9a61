from __future__ import annotations

import base64
import time

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.web.conftest import PASSWORD
from web import totp
from web.models import TotpDevice

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_seconds", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_hotp_matches_the_rfc_6238_sha1_vectors(unix_seconds, expected):
    key = base64.b32decode(RFC_SECRET)
    assert totp.hotp(key, totp.step_at(unix_seconds), digits=8) == expected


def test_codes_are_accepted_within_one_step_of_drift_only():
    secret = totp.new_secret()
    now = 1_700_000_000.0
    code = totp.totp_at(secret, now)
    assert totp.matching_step(secret, code, now) == totp.step_at(now)
    assert totp.matching_step(secret, code, now + 30) == totp.step_at(now)
    assert totp.matching_step(secret, code, now + 95) is None
    assert totp.matching_step(secret, "12345", now) is None
    assert totp.matching_step(secret, "abcdef", now) is None


@pytest.mark.django_db
def test_enrol_then_login_needs_a_code_and_a_code_cannot_be_replayed():
    user = UserFactory.create()
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    client.force_login(user)
    security = reverse("web:security")

    page = client.post(security, {"action": "start"})
    assert page.status_code == 200
    device = TotpDevice.objects.get(user=user)
    assert device.secret.encode() in page.content  # shown to its owner during enrolment only
    assert client.post(security, {"action": "confirm", "code": "000000"}).status_code == 400
    device.refresh_from_db()
    assert device.confirmed_at is None

    code = totp.totp_at(device.secret, time.time())
    assert client.post(security, {"action": "confirm", "code": code}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed_at is not None
    assert device.secret.encode() not in client.get(security).content

    client.post(reverse("web:logout"))
    step_one = client.post(reverse("web:login"), {"username": user.username, "password": PASSWORD})
    assert step_one["Location"] == reverse("web:login_totp")
    assert "_auth_user_id" not in client.session
    # The code used to confirm is spent: replaying it fails.
    replay = client.post(reverse("web:login_totp"), {"code": code})
    assert replay.status_code == 400
    assert "_auth_user_id" not in client.session

    fresh = totp.totp_at(device.secret, time.time() + 30)
    ok = client.post(reverse("web:login_totp"), {"code": fresh})
    assert ok.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_turning_the_second_factor_off_needs_the_password():
    user = UserFactory.create()
    user.set_password(PASSWORD)
    user.save()
    TotpDevice.objects.create(user=user, secret=totp.new_secret(), confirmed_at="2026-01-01T00:00Z")
    client = Client()
    client.force_login(user)

    wrong = client.post(reverse("web:security"), {"action": "disable", "password": "nope"})
    assert wrong.status_code == 400
    assert TotpDevice.objects.filter(user=user).exists()

    right = client.post(reverse("web:security"), {"action": "disable", "password": PASSWORD})
    assert right.status_code == 302
    assert not TotpDevice.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_the_totp_secret_is_encrypted_at_rest():
    from django.db import connection

    user = UserFactory.create()
    device = TotpDevice.objects.create(user=user, secret=totp.new_secret())
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM web_totpdevice WHERE id = %s", [device.pk])
        (raw,) = cursor.fetchone()
    assert device.secret not in raw
