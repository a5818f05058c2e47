"""Request-wide context: where a change comes from (UI or API) for the audit log."""

from __future__ import annotations

from apps.core.audit import audit_context
from apps.core.models import AuditSource


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class RequestSourceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = AuditSource.API if request.path.startswith("/api/") else AuditSource.UI
        with audit_context(source=source, ip_address=client_ip(request)):
            return self.get_response(request)
