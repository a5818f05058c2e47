"""Domain errors: one exception family for every rule the service layer enforces (STYLE §7).

Services raise these; the API exception handler turns them into RFC 9457 problem details
and the UI views into form errors or messages. Clients branch on `code`, never on text.
"""

from __future__ import annotations

from django.db import models


class CoreErrorCode(models.TextChoices):
    INVALID = "invalid", "Invalid"
    REQUIRED = "required", "Required"
    NOT_FOUND = "not_found", "Not found"
    NOT_PERMITTED = "not_permitted", "Not permitted"
    INVALID_TRANSITION = "invalid_transition", "Invalid transition"
    CONCURRENT_TRANSITION = "concurrent_transition", "Concurrent transition"
    CONFLICT = "conflict", "Conflict"
    UNAVAILABLE = "unavailable", "Unavailable"
    QUOTA_EXCEEDED = "quota_exceeded", "Quota exceeded"


class DomainError(Exception):
    """A rule was broken. `status` is the HTTP status the API answers with."""

    status = 400
    title = "Invalid request"
    default_code = CoreErrorCode.INVALID

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = str(code or self.default_code)
        self.field = field
        self.extra = extra or {}

    def as_error(self) -> dict:
        return {"code": self.code, "field": self.field, "message": self.message}


class ValidationFailed(DomainError):
    """Several field errors at once: `errors` is a list of (field, code, message)."""

    def __init__(self, errors: list[tuple[str | None, str, str]]):
        errors = list(errors) or [(None, CoreErrorCode.INVALID, "The request is invalid.")]
        first = errors[0]
        super().__init__(first[2], code=first[1], field=first[0])
        self.errors = errors


class NotFound(DomainError):
    status = 404
    title = "Not found"
    default_code = CoreErrorCode.NOT_FOUND


class NotPermitted(DomainError):
    status = 403
    title = "Not permitted"
    default_code = CoreErrorCode.NOT_PERMITTED


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    default_code = CoreErrorCode.CONFLICT


class InvalidTransition(Conflict):
    title = "Invalid transition"
    default_code = CoreErrorCode.INVALID_TRANSITION


class ConcurrentTransition(Conflict):
    title = "Concurrent change"
    default_code = CoreErrorCode.CONCURRENT_TRANSITION


class QuotaExceeded(DomainError):
    title = "Quota exceeded"
    default_code = CoreErrorCode.QUOTA_EXCEEDED


class ServiceUnavailable(DomainError):
    """An outside system (MLflow, the cluster, a metrics provider) did not answer."""

    status = 503
    title = "Service unavailable"
    default_code = CoreErrorCode.UNAVAILABLE
