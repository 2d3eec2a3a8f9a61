"""The retry policy every task that reaches an upstream shares (CONVENTIONS habit 4).

Transient failures (Unavailable, DeviceOffline) are left to each task's ``autoretry_for``; a
provider's Retry-After becomes the countdown; a refusal of our credentials is recorded where the
household sees it (Tesla: the site pauses until reconnected; Amber: an event) and never retried.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery.app.task import Task

from automations.intents import AUTOMATION_OF
from automations.models import IntentKind
from devices.clients import MissingCredentials
from devices.models import Site
from devices.providers import tesla
from devices.tokens import site_needs_reauthorisation_mark
from households.models import Event
from households.services import event_record
from pricing.providers import amber

logger = logging.getLogger(__name__)

TRANSIENT = (amber.Unavailable, tesla.Unavailable, tesla.DeviceOffline)
REAUTHORISE = "Tesla refused the stored credentials: connect Tesla again."


@contextmanager
def upstream_policy(task: Task, site_id: int, *, default_retry_s: int = 30) -> Iterator[None]:
    try:
        yield
    except amber.RateLimited as exc:
        countdown = max(1, int(exc.retry_after or default_retry_s))
        raise task.retry(countdown=countdown, exc=exc) from exc
    except tesla.RateLimited as exc:
        countdown = max(1, int(exc.retry_after_s or default_retry_s))
        raise task.retry(countdown=countdown, exc=exc) from exc
    except tesla.AuthError:
        site_needs_reauthorisation_mark(site_id=site_id, reason=REAUTHORISE)
    except amber.AuthFailed:
        _amber_token_rejected(site_id)
    except MissingCredentials:
        logger.warning("site %s: no Tesla credentials, nothing sent", site_id)


def _amber_token_rejected(site_id: int) -> None:
    site = Site.objects.filter(pk=site_id).first()
    if site is not None:
        event_record(
            household_id=site.household_id,
            site_id=site.pk,
            automation=AUTOMATION_OF[IntentKind.ROUTINE],
            intent=IntentKind.ROUTINE,
            decision="Amber refused the token",
            reason="Check the Amber token in the site's connections.",
            outcome=Event.Outcome.FAILED,
        )
