"""The API's one error envelope.

Every error response of /api/v1/ has the shape::

    {"error": {"code": "invalid", "message": "...", "fields": {"field": ["message", ...]}}}

``code`` is stable and machine-readable (DRF's default code of the exception: ``invalid``,
``parse_error``, ``not_authenticated``, ``authentication_failed``, ``permission_denied``,
``not_found``, ``method_not_allowed``, ``unsupported_media_type``, ``request_too_large``,
``throttled``, ``conflict``, ``upstream_failed``, ``not_implemented``, ``server_error``).
``message`` is one sentence for a person. ``fields`` maps each offending input field
(``non_field_errors`` for the object as a whole) to its messages; it is empty when the error is
not about input. Nested fields are flattened with dots (``credentials.amber_token``,
``definition.seasons[0].periods``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class Conflict(exceptions.APIException):
    """The request is valid but clashes with the current state (e.g. deleting a schedule in use)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with the current state."
    default_code = "conflict"


class UpstreamFailed(exceptions.APIException):
    """Amber or Tesla refused or could not be reached; the message is safe to show."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "An upstream service could not be reached."
    default_code = "upstream_failed"


class NotImplementedYet(exceptions.APIException):
    """The endpoint exists but does not cover this case yet; the message says which."""

    status_code = status.HTTP_501_NOT_IMPLEMENTED
    default_detail = "Not available for this object yet."
    default_code = "not_implemented"


def validation_error_from_django(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A service's Django ``ValidationError`` -> DRF's, keeping the field names."""
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(
            {
                ("non_field_errors" if name == "__all__" else name): messages
                for name, messages in exc.message_dict.items()
            }
        )
    return exceptions.ValidationError(list(exc.messages))


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """``ValidationError.detail`` (nested dicts/lists of ErrorDetail) -> {"a.b": ["message"]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for sub_key, messages in _flatten(value, name).items():
                fields.setdefault(sub_key, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            fields[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:  # a list of nested objects: index each one
            for index, item in enumerate(detail):
                if item:
                    fields.update(_flatten(item, f"{prefix}[{index}]"))
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def _first_code(detail: Any) -> str:
    codes = detail
    while isinstance(codes, dict | list):
        if not codes:
            return "invalid"
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes) if codes else "invalid"


def envelope(*, code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every exception a view raises -> the envelope."""
    if isinstance(exc, RequestDataTooBig):  # DRF reads the body through HttpRequest.body
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = RequestTooLarge(f"The request body is larger than {limit} bytes.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    if not isinstance(exc, exceptions.APIException):
        # A bug, not bad input: log it (the traceback, never the request body) and say little.
        view = context.get("view")
        logger.exception("unhandled error in API view %s", type(view).__name__)
        set_rollback()
        return Response(
            envelope(code="server_error", message="Something went wrong on our side."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]

    if isinstance(exc, exceptions.ValidationError):
        body = envelope(
            code=_first_code(exc.get_codes()) if _is_single_message(exc.detail) else "invalid",
            message=_validation_message(exc.detail),
            fields=_flatten(exc.detail),
        )
    else:
        detail = exc.detail
        message = str(detail if not isinstance(detail, dict | list) else exc.default_detail)
        code = exc.get_codes()
        body = envelope(code=code if isinstance(code, str) else exc.default_code, message=message)
        if isinstance(exc, exceptions.Throttled):
            wait_s = getattr(exc, "wait", None)
            body["error"]["message"] = (
                f"Too many requests; retry in {int(wait_s)} s."
                if wait_s is not None
                else "Too many requests; retry later."
            )

    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def _is_single_message(detail: Any) -> bool:
    return isinstance(detail, list) and len(detail) == 1 and not isinstance(detail[0], dict | list)


def _validation_message(detail: Any) -> str:
    if _is_single_message(detail):
        return str(detail[0])
    fields = _flatten(detail)
    if list(fields) == ["non_field_errors"]:
        return " ".join(fields["non_field_errors"])
    return "Invalid input: " + ", ".join(sorted(fields)) + "."
