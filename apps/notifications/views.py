"""Notification pages: a team's destinations (add, edit, delete, send test, rotate secret) and the delivery log.

Every write calls `apps.notifications.services`, the same functions as the API. Viewers see the
destinations and the log but get 403 on every write; another team's destination is 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View

from apps.core.errors import DomainError
from apps.core.ui import ScopedViewMixin, add_domain_errors, raise_for_access, status_for
from apps.notifications import services
from apps.notifications.choices import SUBSCRIBABLE, DestinationKind
from apps.notifications.filtersets import DeliveryFilterSet
from apps.notifications.forms import DestinationForm
from apps.notifications.models import Delivery, DeliveryAttempt, Destination
from apps.tenancy.models import Tenant


class DestinationListView(ScopedViewMixin, View):
    """The destinations of my teams (or the header's team), with each one's latest delivery."""

    def get(self, request):
        latest = Delivery.objects.filter(destination=OuterRef("pk")).order_by("-created_at", "-id")
        destinations = (self.team_filtered(self.scoped(Destination)).select_related("tenant")
                        .annotate(last_status=Subquery(latest.values("status")[:1]),
                                  last_code=Subquery(latest.values("last_status_code")[:1]),
                                  last_at=Subquery(latest.values("created_at")[:1])))
        can_add = self.scoped(Tenant, "change").exists()
        return render(request, "notifications/destination_list.html",
                      {"destinations": destinations, "can_add": can_add, "team": self.team,
                       "all_count": len(SUBSCRIBABLE)})


def _secret_page(request, destination: Destination, secret: str, *, created: bool):
    """The one response that shows a signing secret; never cached, never stored in the session."""
    response = render(request, "notifications/destination_secret.html",
                      {"destination": destination, "secret": secret, "created": created},
                      status=201 if created else 200)
    add_never_cache_headers(response)
    return response


class DestinationCreateView(ScopedViewMixin, View):
    template = "notifications/destination_form.html"

    def _teams(self):
        teams = self.scoped(Tenant, "change")
        if not teams.exists():
            raise PermissionDenied("Your role cannot add destinations: viewers only read.")
        return teams

    def get(self, request):
        teams = self._teams()
        initial = {"team": self.team.pk} if self.team is not None and teams.filter(pk=self.team.pk).exists() else {}
        return render(request, self.template, {"form": DestinationForm(teams=teams, initial=initial)})

    def post(self, request):
        form = DestinationForm(request.POST, teams=self._teams())
        status = 422
        if form.is_valid():
            try:
                destination, secret = services.create_destination(form.cleaned_data["team"], actor=request.user,
                                                                  **form.service_fields())
            except DomainError as exc:
                raise_for_access(exc)
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                if secret:
                    return _secret_page(request, destination, secret, created=True)
                messages.success(request, f"Destination “{destination.name}” added.")
                return HttpResponseRedirect(reverse("notifications:destination_list"))
        return render(request, self.template, {"form": form}, status=status)


class DestinationMixin(ScopedViewMixin):
    def destination(self, pk: int, *, write: bool) -> Destination:
        destination = self.get_scoped_or_404(self.scoped(Destination).select_related("tenant"), pk=pk)
        if write:
            self.require("change", destination.tenant_id, what="notification destination")
        return destination


class DestinationEditView(DestinationMixin, View):
    template = "notifications/destination_form.html"

    def get(self, request, pk: int):
        destination = self.destination(pk, write=True)
        return render(request, self.template, {"form": DestinationForm(instance=destination),
                                               "destination": destination})

    def post(self, request, pk: int):
        destination = self.destination(pk, write=True)
        form = DestinationForm(request.POST, instance=destination)
        status = 422
        if form.is_valid():
            try:
                services.update_destination(destination, actor=request.user, **form.service_fields())
            except DomainError as exc:
                raise_for_access(exc)
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                messages.success(request, f"Destination “{form.cleaned_data['name']}” saved.")
                return HttpResponseRedirect(reverse("notifications:destination_list"))
        return render(request, self.template, {"form": form, "destination": destination}, status=status)


class DestinationDeleteView(DestinationMixin, View):
    template = "notifications/destination_confirm.html"

    def get(self, request, pk: int):
        return render(request, self.template, {"destination": self.destination(pk, write=True), "action": "delete"})

    def post(self, request, pk: int):
        destination = self.destination(pk, write=True)
        services.delete_destination(destination, actor=request.user)
        messages.success(request, f"Destination “{destination.name}” deleted; its delivery log is kept.")
        return HttpResponseRedirect(reverse("notifications:destination_list"))


class DestinationRotateView(DestinationMixin, View):
    template = "notifications/destination_confirm.html"

    def get(self, request, pk: int):
        return render(request, self.template, {"destination": self.destination(pk, write=True), "action": "rotate"})

    def post(self, request, pk: int):
        destination = self.destination(pk, write=True)
        try:
            secret = services.rotate_secret(destination, actor=request.user)
        except DomainError as exc:
            raise_for_access(exc)
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("notifications:destination_list"))
        return _secret_page(request, destination, secret, created=False)


class DestinationTestView(DestinationMixin, View):
    """POST: send a test now. htmx swaps the result into the row; without JavaScript it is a page."""

    def post(self, request, pk: int):
        destination = self.destination(pk, write=True)
        delivery = services.send_test(destination, actor=request.user)
        return self.render_page("notifications/test_result.html", {"destination": destination, "delivery": delivery},
                                partial="result")


class DeliveryListView(ScopedViewMixin, View):
    """The delivery log of my teams: event, destination, status, attempts, status codes; filterable."""

    page_size = 50

    def get(self, request):
        fs = self.filterset(DeliveryFilterSet, self.scoped(Delivery),
                            labels={"destination": "Destination id", "since": "Since", "until": "Until"},
                            placeholders={"since": "2026-01-31T00:00", "until": "2026-02-01T00:00"})
        rows = fs.qs.select_related("tenant").prefetch_related(
            Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number")))
        page = Paginator(rows, self.page_size).get_page(request.GET.get("page"))
        return self.render_page("notifications/delivery_list.html",
                                {"filters": fs.form, "page": page, "deliveries": page.object_list,
                                 "webhook": DestinationKind.WEBHOOK},
                                partial="results", status=422 if fs.form.errors else 200)
