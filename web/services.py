"""Writes of the web app: the TOTP second factor."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from web import totp
from web.models import TotpDevice


@transaction.atomic
def totp_device_start(*, user: User) -> TotpDevice:
    """Begin (or restart) enrolment: a new unconfirmed secret for the user.

    A confirmed device is left alone (disable it first), so a stolen session cannot silently
    swap the second factor.
    """
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.confirmed_at is not None:
        return device
    if device is None:
        return TotpDevice.objects.create(user=user, secret=totp.new_secret())
    device.secret = totp.new_secret()
    device.save(update_fields=["secret"])
    return device


@transaction.atomic
def totp_code_verify(*, user: User, code: str, now: dt.datetime | None = None) -> bool:
    """Check a code against the user's device and burn its time step (no replay).

    Confirms an unconfirmed device on the first good code. Returns False for a wrong, stale or
    replayed code, or when the user has no device.
    """
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is None or not device.secret:
        return False
    moment = (now or timezone.now()).timestamp()
    step = totp.matching_step(device.secret, code, moment)
    if step is None or step <= device.last_used_step:
        return False
    device.last_used_step = step
    fields = ["last_used_step"]
    if device.confirmed_at is None:
        device.confirmed_at = timezone.now()
        fields.append("confirmed_at")
    device.save(update_fields=fields)
    return True


@transaction.atomic
def totp_device_disable(*, user: User) -> None:
    TotpDevice.objects.filter(user=user).delete()


def totp_enabled(*, user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
