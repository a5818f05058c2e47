"""Web UI plumbing shared by every app's views: tenant scoping, the team filter, domain errors.

Tenant scoping is applied here and only here for the pages (STYLE §6): `ScopedViewMixin.scoped()`
calls `for_user(request.user, action)`. An object outside that queryset answers 404 with the
friendly page, so another team's objects are indistinguishable from missing ones.

Views call the same services as the API; a `DomainError` they raise becomes either an HTTP
error (403 for a viewer writing, 404 for something not visible) or form errors that name the
field and the rule, rendered with status 422 (409 for conflicts, 503 when MLflow is down).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from apps.core.errors import Conflict, DomainError, NotFound, NotPermitted, ServiceUnavailable, ValidationFailed

SESSION_TEAM_KEY = "team"
FORM_ERROR_STATUS = 422


def current_team(request: HttpRequest):
    """The team chosen in the header switcher (session key "team"), or None for all my teams.

    A stale or foreign slug in the session is ignored, never trusted.
    """
    from apps.tenancy.models import Tenant

    slug = request.session.get(SESSION_TEAM_KEY) if hasattr(request, "session") else None
    if not slug or not request.user.is_authenticated:
        return None
    return Tenant.objects.for_user(request.user, "view").filter(slug=slug).first()


def safe_next(request: HttpRequest, candidate: str | None, default: str = "/") -> str:
    """A same-site path to go back to (never an open redirect)."""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return default


def raise_for_access(exc: DomainError) -> None:
    """Turn "you may not" and "not visible" into the 403 / friendly 404 pages."""
    if isinstance(exc, NotPermitted):
        raise PermissionDenied(exc.message)
    if isinstance(exc, NotFound) and not exc.field:
        raise Http404(exc.message)


def add_domain_errors(form: forms.Form, exc: DomainError) -> None:
    """Put a service's errors on the form: on the named field when the form has it."""
    errors = exc.errors if isinstance(exc, ValidationFailed) else [(exc.field, exc.code, exc.message)]
    for field, code, message in errors:
        target = field if field in form.fields else None
        text = message if target or not field else f"{field}: {message}"
        form.add_error(target, DjangoValidationError(text, code=str(code)))


def status_for(exc: DomainError) -> int:
    if isinstance(exc, ServiceUnavailable):
        return 503
    if isinstance(exc, Conflict):
        return 409
    return FORM_ERROR_STATUS


class ScopedViewMixin(LoginRequiredMixin):
    """Signed-in pages that read tenant-owned rows. `scoped()` is the one scoping point."""

    request: HttpRequest

    def scoped(self, model, action: str = "view") -> QuerySet:
        return model.objects.for_user(self.request.user, action)

    def require(self, action: str, tenant_id: int, *, what: str = "object") -> None:
        """Gate a write before parsing its form: a viewer gets 403 whatever they sent."""
        from apps.core.access import require

        try:
            require(self.request.user, action, tenant_id, what=what)
        except DomainError as exc:
            raise_for_access(exc)
            raise

    def require_platform(self, *, doing: str) -> None:
        if not self.request.user.is_platform:
            raise PermissionDenied(f"Only platform engineers can {doing}.")

    def get_scoped_or_404(self, queryset: QuerySet, **lookup) -> Any:
        obj = queryset.filter(**lookup).first()
        if obj is None:
            raise Http404("No such object, or it is not visible to you.")
        return obj

    @cached_property
    def team(self):
        return current_team(self.request)

    def team_filtered(self, queryset: QuerySet) -> QuerySet:
        """Lists show one team when the header switcher has chosen one."""
        return queryset.for_tenant(self.team.pk) if self.team is not None else queryset

    def filterset(self, filterset_class, queryset: QuerySet, *, labels: dict[str, str] | None = None,
                  placeholders: dict[str, str] | None = None):
        """Bind the list's FilterSet (the same class the API uses, STYLE §5) to the query string.

        `tenant` becomes a select of my teams, defaulting to the header's team. Invalid
        fields show their errors; the valid ones still filter.
        """
        from apps.tenancy.models import Tenant

        data = self.request.GET.copy()
        if "tenant" not in data and self.team is not None:
            data["tenant"] = self.team.slug
        fs = filterset_class(data, queryset=queryset, request=self.request)
        teams = self.scoped(Tenant).only("slug", "name")
        for name, field in fs.form.fields.items():
            if name == "tenant":
                field.widget = forms.Select(choices=[("", "All my teams")] + [(t.slug, t.name) for t in teams])
                field.label = "Team"
            elif isinstance(field, forms.DateTimeField):
                field.widget.input_type = "datetime-local"  # the browser's picker sends ISO 8601
            elif isinstance(field.widget, forms.Select):
                field.widget.choices = [("", "Any")] + [c for c in field.widget.choices if c[0] != ""]
            if labels and name in labels:
                field.label = labels[name]
            if placeholders and name in placeholders:
                field.widget.attrs["placeholder"] = placeholders[name]
            field.widget.attrs["class"] = "input"
        fs.form.is_valid()
        return fs

    def render_page(self, template: str, context: dict, *, partial: str | None = None,
                    status: int = 200) -> HttpResponse:
        """Render the whole page, or only `partial` of it for an htmx request."""
        htmx = getattr(self.request, "htmx", None)
        # A history-restore request (back button, cache miss) needs the whole page.
        wants_fragment = bool(htmx) and not htmx.history_restore_request
        name = f"{template}#{partial}" if partial and wants_fragment else template
        return render(self.request, name, context, status=status)
