"""The retry policy every task that reaches an upstream shares (CONVENTIONS habit 4).

Transient failures (Unavailable, DeviceOffline) are left to each task's ``autoretry_for`` until
its last try, which ends quietly (the reconcile recorded the failure where the household sees
it); a provider's Retry-After becomes the countdown; a refusal of our credentials is recorded
where the household sees it (Tesla: the site pauses until reconnected; Amber: an event) and never
retried; another Amber error (a malformed reply) is not retried either.
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
    except TRANSIENT as exc:
        if task.max_retries is None or task.request.retries < task.max_retries:
            raise  # the task's autoretry_for retries it
        # Out of retries: the reconcile has recorded it where the household sees it (a failed
        # pass, "prices unavailable"); the sweep and the next cycle try again.
        logger.warning(
            "site %s: %s after %s retries; recorded, left to the next cycle",
            site_id,
            type(exc).__name__,
            task.request.retries,
        )
    except amber.AmberError as exc:
        # A reply no retry mends (malformed, not found): recorded by the reconcile as above.
        logger.warning("site %s: Amber %s; recorded, left to the next cycle", site_id, exc)


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
