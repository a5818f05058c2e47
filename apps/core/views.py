"""Error pages (problem details under /api/, friendly pages elsewhere), the dashboard, the audit log."""

from __future__ import annotations

from datetime import datetime, time

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.utils import timezone
from django.views import View

from apps.core.api import problem_response
from apps.core.forms import AuditFilterForm
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


def filter_audit(queryset, data: dict):
    """Apply the audit filters. Swap for `AuditEventFilterSet` (apps/core/filtersets.py) once the API's
    FilterSet exists, so the page and GET /api/v1/audit/ filter identically (STYLE §5)."""
    if data.get("action"):
        queryset = queryset.filter(action__startswith=data["action"])
    if data.get("actor"):
        queryset = queryset.filter(actor_label__iexact=data["actor"])
    if data.get("source"):
        queryset = queryset.filter(source=data["source"])
    if data.get("team"):
        queryset = queryset.filter(tenant__slug=data["team"])
    tz = timezone.get_current_timezone()
    if data.get("since"):
        queryset = queryset.filter(created_at__gte=datetime.combine(data["since"], time.min, tzinfo=tz))
    if data.get("until"):
        queryset = queryset.filter(created_at__lte=datetime.combine(data["until"], time.max, tzinfo=tz))
    return queryset


class AuditListView(ScopedViewMixin, View):
    """The append-only audit log of my teams (and my own sign-ins), filterable and paginated."""

    page_size = 50

    def get(self, request):
        from apps.tenancy.models import Tenant

        teams = list(self.scoped(Tenant))
        params = request.GET.copy()
        if "team" not in params and self.team is not None:
            params["team"] = self.team.slug  # the header switcher is the default team filter
        form = AuditFilterForm(params, teams=teams)
        form.is_valid()  # invalid fields show their errors; the valid ones still filter
        data = {k: v for k, v in form.cleaned_data.items() if k not in form.errors}
        events = filter_audit(self.scoped(AuditEvent).select_related("tenant"), data)
        page = Paginator(events, self.page_size).get_page(request.GET.get("page"))
        context = {"form": form, "page": page, "events": page.object_list}
        return self.render_page("core/audit_list.html", context, partial="results",
                                status=422 if form.errors else 200)
