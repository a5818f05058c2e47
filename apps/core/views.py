"""Error pages (problem details under /api/, friendly pages elsewhere), the dashboard, the audit log."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views import View

from apps.core.api import problem_response
from apps.core.filtersets import AuditFilterSet
from apps.core.models import AuditEvent
from apps.core.ui import ScopedViewMixin
from apps.readiness.choices import SATISFIED, ItemStatus


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return problem_response(404, "Not found", "No such resource, or it is not visible to you.", code="not_found")
    return render(request, "404.html", status=404)


def forbidden(request, exception=None):
    if request.path.startswith("/api/"):
        return problem_response(403, "Not permitted", "You may not do this.", code="not_permitted")
    # The reason comes from our own access checks ("viewers only read", ...), never from user input.
    reason = str(exception) if exception is not None and str(exception) else ""
    return render(request, "403.html", {"reason": reason}, status=403)


def server_error(request):
    if request.path.startswith("/api/"):
        return problem_response(500, "Server error", "Something went wrong on our side; it has been logged.",
                                code="server_error")
    # No context processors: the page must render even when the database is what failed.
    return HttpResponseServerError(loader.get_template("500.html").render())


OPEN_STATUSES = (ItemStatus.PENDING, ItemStatus.FAIL)
DONE_STATUSES = tuple(SATISFIED)


class DashboardView(ScopedViewMixin, View):
    """My models, versions whose checklist still has open items, and recent activity."""

    def get(self, request):
        from apps.registry.models import Model, ModelVersion

        models_qs = self.team_filtered(self.scoped(Model))
        versions_qs = self.team_filtered(self.scoped(ModelVersion)).annotate(
            total=Count("checklist"), open=Count("checklist", filter=Q(checklist__status__in=OPEN_STATUSES)),
            done=Count("checklist", filter=Q(checklist__status__in=DONE_STATUSES)))
        stats = {
            "models": models_qs.count(),
            "versions": versions_qs.count(),
            "ready": versions_qs.filter(total__gt=0, open=0).count(),
            "awaiting": versions_qs.filter(open__gt=0).count(),
        }
        context = {
            "models": list(models_qs.select_related("tenant").annotate(version_count=Count("versions"))
                           .order_by("-updated_at", "-id")[:6]),
            "awaiting": list(versions_qs.filter(open__gt=0).select_related("model__tenant")
                             .order_by("-created_at", "-id")[:8]),
            "activity": list(self.team_filtered(self.scoped(AuditEvent)).select_related("tenant")[:10]),
            "stats": stats,
            "team": self.team,
        }
        return render(request, "core/dashboard.html", context)


class AuditListView(ScopedViewMixin, View):
    """The append-only audit log of my teams (and my own sign-ins), filterable and paginated."""

    page_size = 50

    def get(self, request):
        fs = self.filterset(AuditFilterSet, self.scoped(AuditEvent).select_related("tenant"),
                            labels={"actor": "Actor", "object_type": "Object type", "object_id": "Object id",
                                    "since": "Since", "until": "Until"},
                            placeholders={"action": "model. or model.created", "actor": "username",
                                          "object_type": "model", "since": "2026-01-31T00:00",
                                          "until": "2026-02-01T00:00"})
        page = Paginator(fs.qs, self.page_size).get_page(request.GET.get("page"))
        context = {"filters": fs.form, "page": page, "events": page.object_list}
        return self.render_page("core/audit_list.html", context, partial="results",
                                status=422 if fs.form.errors else 200)
