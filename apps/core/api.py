"""API plumbing shared by every app: RFC 9457 problem details, pagination, the scoped viewset.

Every error the API answers with is `application/problem+json`:
`{type, title, status, detail, errors: [{code, field, message}]}`.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from apps.core.errors import DomainError, ValidationFailed
from apps.core.filtersets import AuditFilterSet
from apps.core.models import AuditEvent
from apps.core.serializers import AuditEventSerializer

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://slipway.dev/problems/"


def problem(status_code: int, title: str, detail: str, *, code: str, errors: list[dict] | None = None,
            extra: dict | None = None) -> dict:
    body = {
        "type": PROBLEM_TYPE_BASE + code.replace("_", "-"),
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }
    if extra:
        body.update(extra)
    return body


def _flatten(detail, field: str | None = None) -> list[dict]:
    """Serializer errors (nested dicts/lists of ErrorDetail) → [{code, field, message}]."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__") else (f"{field}.{key}" if field else str(key))
            if key in ("non_field_errors", "__all__") and field:
                name = field
            out.extend(_flatten(value, name))
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                out.extend(_flatten(value, f"{field}[{index}]" if field else str(index)))
            else:
                out.extend(_flatten(value, field))
    else:
        code = getattr(detail, "code", None) or "invalid"
        out.append({"code": str(code), "field": field, "message": str(detail)})
    return out


def problem_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: DomainError, Django and DRF errors → problem details."""
    headers: dict[str, str] = {}
    if isinstance(exc, ValidationFailed):
        errors = [{"code": code, "field": field, "message": message} for field, code, message in exc.errors]
        body = problem(exc.status, exc.title, exc.message, code=exc.code, errors=errors, extra=exc.extra)
        status_code = exc.status
    elif isinstance(exc, DomainError):
        body = problem(exc.status, exc.title, exc.message, code=exc.code, errors=[exc.as_error()], extra=exc.extra)
        status_code = exc.status
    elif isinstance(exc, DjangoValidationError):
        errors = _flatten(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        status_code = 400
        body = problem(400, "Invalid request", errors[0]["message"] if errors else "Invalid request.",
                       code="invalid", errors=errors)
    elif isinstance(exc, RecursionError):
        # json.loads on a body nested thousands of levels deep; the body is the problem.
        status_code = 400
        body = problem(400, "Invalid request", "The JSON body is nested too deeply.", code="parse_error")
    elif isinstance(exc, RequestDataTooBig):
        status_code = 413
        body = problem(413, "Request too large", "The request body is larger than this API accepts.",
                       code="too_large")
    elif isinstance(exc, SuspiciousOperation):
        status_code = 400
        body = problem(400, "Invalid request", "The request was malformed.", code="bad_request")
    elif isinstance(exc, Http404):
        status_code = 404
        body = problem(404, "Not found", "No such object, or it is not visible to you.", code="not_found")
    elif isinstance(exc, DjangoPermissionDenied):
        status_code = 403
        body = problem(403, "Not permitted", str(exc) or "You may not do this.", code="not_permitted")
    elif isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        status_code = 400
        first = errors[0] if errors else {"message": "Invalid request.", "field": None}
        detail = f"{first['field']}: {first['message']}" if first.get("field") else first["message"]
        body = problem(400, "Invalid request", detail, code="invalid", errors=errors)
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        code = exc.default_code if isinstance(exc.detail, (dict, list)) else (exc.detail.code or exc.default_code)
        text = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(exc.default_detail)
        titles = {401: "Not authenticated", 403: "Not permitted", 404: "Not found", 405: "Method not allowed",
                  406: "Not acceptable", 415: "Unsupported media type", 429: "Too many requests"}
        body = problem(status_code, titles.get(status_code, "Request failed"), text, code=str(code))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
            body["retry_after"] = int(headers["Retry-After"])
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
    else:
        return None
    response = Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


def problem_response(status_code: int, title: str, detail: str, *, code: str) -> JsonResponse:
    """A problem detail outside DRF (404/500 handlers for /api/ paths)."""
    return JsonResponse(problem(status_code, title, detail, code=code), status=status_code,
                        content_type=PROBLEM_CONTENT_TYPE)


class TenantScopedViewSetMixin:
    """The API half of STYLE §6: querysets are `for_user(request.user, "view")`.

    Another team's object is not in the queryset → 404. Write permission (viewer → 403)
    is checked by the service each action calls.
    """

    scoped_model = None  # the model whose manager has for_user

    def get_queryset(self):
        qs = self.scoped_model.objects.for_user(self.request.user, "view")
        return self.optimize_queryset(qs)

    def optimize_queryset(self, qs):
        return qs

    def filter_queryset(self, queryset):
        # Without any of its parameters a FilterSet filters nothing; skip building its form.
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None and not set(self.request.query_params) & set(filterset_class.base_filters):
            return queryset
        return super().filter_queryset(queryset)


class ScopedReadOnlyViewSet(TenantScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


def no_content() -> Response:
    return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventViewSet(ScopedReadOnlyViewSet):
    """`GET /api/v1/audit/`: the audit events the caller may see, newest first.

    Members see their teams' events and their own account events (sign-ins, tokens);
    platform engineers see everything. Filters: see AuditFilterSet.
    """

    scoped_model = AuditEvent
    serializer_class = AuditEventSerializer
    filterset_class = AuditFilterSet

    def optimize_queryset(self, qs):
        return qs.select_related("tenant").only(
            "id", "created_at", "actor_label", "tenant_id", "tenant__slug", "action", "object_type",
            "object_id", "object_repr", "before", "after", "source", "ip_address")


def register(router) -> list:
    """Routes of the core app for portal.api_urls (router entries; no extra paths)."""
    router.register("audit", AuditEventViewSet, basename="audit")
    return []


def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Catch-all for unknown /api/v1/ paths: a problem detail, never an HTML page."""
    return problem_response(404, "Not found", "No such API endpoint.", code="not_found")
