"""Checklist actions on the version page: attest, waive, re-evaluate, and the polled checklist card.

With htmx the item row and the readiness badge are swapped in place; without it every form posts
and redirects back to the version page. Writes call `readiness.services` like the API does.
"""

from __future__ import annotations

import time

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django_htmx.http import HttpResponseStopPolling

from apps.core.errors import DomainError
from apps.core.ui import ScopedViewMixin, add_domain_errors, raise_for_access, status_for
from apps.readiness.choices import ItemKind, ItemStatus
from apps.readiness.forms import AttestForm, WaiveForm
from apps.readiness.models import ChecklistItem
from apps.readiness.services import attest, readiness, waive
from apps.registry.models import ModelVersion

# How long the page waits for the worker before saying it has not picked the job up.
EVALUATION_PATIENCE_SECONDS = 120
_REQUESTED_KEY = "slipway:ui:evaluation-requested:{}"


def _now() -> float:
    return time.time()


def _evaluable(item: ChecklistItem) -> bool:
    """Items an evaluation pass looks at: automatic ones no person has decided."""
    return (item.definition.kind != ItemKind.ATTESTED and item.decided_by_id is None
            and item.status != ItemStatus.WAIVED)


def evaluation_state(version: ModelVersion, items: list[ChecklistItem]) -> str:
    """"idle", "running" (requested, the worker has not stamped evaluated_at since) or "stalled"."""
    requested = cache.get(_REQUESTED_KEY.format(version.pk))
    if requested is None:
        return "idle"
    stamps = [i.evaluated_at.timestamp() for i in items if _evaluable(i) and i.evaluated_at is not None]
    if stamps and min(stamps) >= requested:
        cache.delete(_REQUESTED_KEY.format(version.pk))
        return "idle"
    return "stalled" if _now() - requested > EVALUATION_PATIENCE_SECONDS else "running"


def checklist_context(request, version: ModelVersion, *, bound: dict[str, dict] | None = None) -> dict:
    """Everything the version page and its fragments need; `bound` carries forms with errors by item key."""
    items = list(version.checklist.select_related("definition", "decided_by")
                 .order_by("definition__position", "key"))
    for item in items:
        forms = (bound or {}).get(item.key, {})
        item.attestable = item.definition.kind != ItemKind.AUTOMATIC
        item.attest_form = forms.get("attest") or AttestForm(auto_id=f"id_{item.key}_attest_%s")
        item.waive_form = forms.get("waive") or WaiveForm(auto_id=f"id_{item.key}_waive_%s")
    user = request.user
    return {
        "version": version,
        "model": version.model,
        "items": items,
        "readiness": readiness(version, items),
        "evaluation": evaluation_state(version, items),
        "can_change": user.can("change", version.model.tenant_id),
        "can_waive": bool(user.is_platform),
    }


class _VersionMixin(ScopedViewMixin):
    def version(self, pk: int) -> ModelVersion:
        return self.get_scoped_or_404(self.scoped(ModelVersion).select_related("model__tenant"), pk=pk)

    def item(self, version: ModelVersion, key: str) -> ChecklistItem:
        return self.get_scoped_or_404(self.scoped(ChecklistItem).select_related("definition", "version__model"),
                                      version=version, key=key)

    def page_url(self, version: ModelVersion, key: str | None = None) -> str:
        url = reverse("registry:version_detail", args=[version.pk])
        return f"{url}#item-{key}" if key else url

    def respond(self, request, version: ModelVersion, key: str, *, forms: dict | None, status: int, note: str):
        """htmx: the item row plus the readiness badge (out of band). Otherwise back to the page."""
        if not request.htmx and status < 400:
            messages.success(request, note)
            return HttpResponseRedirect(self.page_url(version, key))
        context = checklist_context(request, version, bound={key: forms} if forms else None)
        if not request.htmx:
            return render(request, "registry/version_detail.html", context, status=status)
        context["item"] = next(i for i in context["items"] if i.key == key)
        context["note"] = note if status < 400 else ""
        return render(request, "readiness/item_updated.html", context, status=status)


class ItemAttestView(_VersionMixin, View):
    def post(self, request, pk: int, key: str):
        version = self.version(pk)
        self.require("change", version.model.tenant_id, what="version")
        item = self.item(version, key)
        form = AttestForm(request.POST, auto_id=f"id_{key}_attest_%s")
        status = 422
        if form.is_valid():
            try:
                item = attest(item, actor=request.user, status=form.cleaned_data["status"],
                              evidence=form.cleaned_data["evidence"])
            except DomainError as exc:
                raise_for_access(exc)
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                return self.respond(request, version, key, forms=None, status=200,
                                    note=f"{item.definition.title}: attested {item.status}.")
        return self.respond(request, version, key, forms={"attest": form}, status=status, note="")


class ItemWaiveView(_VersionMixin, View):
    def post(self, request, pk: int, key: str):
        version = self.version(pk)
        self.require_platform(doing="waive checklist items")
        item = self.item(version, key)
        form = WaiveForm(request.POST, auto_id=f"id_{key}_waive_%s")
        status = 422
        if form.is_valid():
            try:
                item = waive(item, actor=request.user, reason=form.cleaned_data["reason"])
            except DomainError as exc:
                raise_for_access(exc)
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                return self.respond(request, version, key, forms=None, status=200,
                                    note=f"{item.definition.title}: waived.")
        return self.respond(request, version, key, forms={"waive": form}, status=status, note="")


class ChecklistEvaluateView(_VersionMixin, View):
    """Queue `evaluate_checklist` on the worker; the checklist card then polls until it has run."""

    def post(self, request, pk: int):
        from worker.tasks import evaluate_checklist

        version = self.version(pk)
        self.require("change", version.model.tenant_id, what="version")
        if any(_evaluable(i) for i in version.checklist.select_related("definition")):
            cache.set(_REQUESTED_KEY.format(version.pk), _now(), EVALUATION_PATIENCE_SECONDS * 5)
            evaluate_checklist.delay(version.pk)
            note = "Re-evaluation queued; the checklist updates when the worker has run it."
        else:
            note = "Nothing to re-evaluate: every automatic item has been decided by a person."
        if request.htmx:
            context = checklist_context(request, version)
            context["note"] = note
            return render(request, "registry/version_detail.html#checklist", context)
        messages.info(request, note)
        return HttpResponseRedirect(self.page_url(version))


class ChecklistCardView(_VersionMixin, View):
    """The checklist card, polled every 2 s while an evaluation is running; 286 stops the polling."""

    def get(self, request, pk: int):
        version = self.version(pk)
        if not request.htmx:
            return HttpResponseRedirect(self.page_url(version))
        context = checklist_context(request, version)
        response = render(request, "registry/version_detail.html#checklist", context)
        if context["evaluation"] != "running":
            response.status_code = HttpResponseStopPolling.status_code
        return response
