"""Model pages: list, create, edit, delete, detail (versions, import, sync) and the version page.

Every write goes through `registry.services`, the same functions the API calls.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max, Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django_htmx.http import HttpResponseClientRedirect

from apps.core.errors import DomainError
from apps.core.ui import ScopedViewMixin, add_domain_errors, raise_for_access, status_for
from apps.readiness.models import ChecklistItem
from apps.readiness.services import readiness
from apps.registry import services
from apps.registry.filtersets import ModelFilterSet
from apps.registry.forms import ImportVersionForm, ModelForm
from apps.registry.models import Model, ModelVersion
from apps.tenancy.models import Tenant


class ModelListView(ScopedViewMixin, View):
    page_size = 25

    def get(self, request):
        fs = self.filterset(ModelFilterSet, self.scoped(Model),
                            labels={"q": "Search"}, placeholders={"q": "Search names and descriptions…"})
        models = (fs.qs.select_related("tenant")
                  .annotate(version_count=Count("versions"), latest_version=Max("versions__version"))
                  .order_by("name", "tenant__slug"))
        page = Paginator(models, self.page_size).get_page(request.GET.get("page"))
        context = {"filters": fs.form, "page": page, "models": page.object_list,
                   "searched": (fs.form.cleaned_data.get("q") or "").strip()}
        return self.render_page("registry/model_list.html", context, partial="results")


class ModelCreateView(ScopedViewMixin, View):
    template = "registry/model_form.html"

    def _teams(self):
        teams = self.scoped(Tenant, "change")
        if not teams.exists():
            raise PermissionDenied("Your role cannot create models: viewers only read.")
        return teams

    def get(self, request):
        teams = self._teams()
        initial = {"team": self.team.pk} if self.team is not None and teams.filter(pk=self.team.pk).exists() else {}
        form = ModelForm(teams=teams, initial={**initial, "sla_p99_ms": 200, "higher_is_better": True})
        return render(request, self.template, {"form": form})

    def post(self, request):
        form = ModelForm(request.POST, teams=self._teams())
        status = 422
        if form.is_valid():
            try:
                model = services.create_model(form.cleaned_data["team"], actor=request.user, **form.service_fields())
            except DomainError as exc:
                raise_for_access(exc)
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                messages.success(request, f"Model {model.name} created. Next: import a version from MLflow.")
                return HttpResponseRedirect(reverse("registry:model_detail", args=[model.pk]))
        return render(request, self.template, {"form": form}, status=status)


class ModelEditView(ScopedViewMixin, View):
    template = "registry/model_form.html"

    def _model(self, pk: int) -> Model:
        model = self.get_scoped_or_404(self.scoped(Model).select_related("tenant"), pk=pk)
        self.require("change", model.tenant_id, what="model")
        return model

    def get(self, request, pk: int):
        model = self._model(pk)
        return render(request, self.template, {"form": ModelForm(instance=model), "model": model})

    def post(self, request, pk: int):
        model = self._model(pk)
        form = ModelForm(request.POST, instance=model)
        status = 422
        if form.is_valid():
            try:
                model = services.update_model(model, actor=request.user, **form.service_fields())
            except DomainError as exc:
                raise_for_access(exc)
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                messages.success(request, f"Model {model.name} saved.")
                return HttpResponseRedirect(reverse("registry:model_detail", args=[model.pk]))
        return render(request, self.template, {"form": form, "model": model}, status=status)


class ModelDeleteView(ScopedViewMixin, View):
    template = "registry/model_confirm_delete.html"

    def _model(self, pk: int) -> Model:
        model = self.get_scoped_or_404(self.scoped(Model).select_related("tenant")
                                       .annotate(version_count=Count("versions")), pk=pk)
        self.require("change", model.tenant_id, what="model")
        return model

    def get(self, request, pk: int):
        return render(request, self.template, {"model": self._model(pk)})

    def post(self, request, pk: int):
        model = self._model(pk)
        try:
            services.delete_model(model, actor=request.user)
        except DomainError as exc:
            raise_for_access(exc)
            return render(request, self.template, {"model": model, "error": exc.message}, status=status_for(exc))
        messages.success(request, f"Model {model.name} and its {model.version_count} version(s) were deleted.")
        return HttpResponseRedirect(reverse("registry:model_list"))


def _versions_with_readiness(model: Model) -> list[ModelVersion]:
    """The model's versions, each with `.readiness` computed from prefetched items (2 queries)."""
    versions = list(model.versions.order_by("-version").prefetch_related(
        Prefetch("checklist", queryset=ChecklistItem.objects.only("id", "version_id", "key", "status"))))
    for version in versions:
        version.readiness = readiness(version, list(version.checklist.all()))
    return versions


class ModelDetailView(ScopedViewMixin, View):
    template = "registry/model_detail.html"

    def _model(self, pk: int) -> Model:
        return self.get_scoped_or_404(self.scoped(Model).select_related("tenant", "created_by"), pk=pk)

    def context(self, model: Model, import_form: ImportVersionForm | None = None) -> dict:
        return {"model": model, "versions": _versions_with_readiness(model),
                "import_form": import_form or ImportVersionForm()}

    def get(self, request, pk: int):
        model = self._model(pk)
        return render(request, self.template, self.context(model))


class VersionImportView(ModelDetailView):
    """POST an MLflow version number; success opens the new version's checklist."""

    http_method_names = ["post", "options"]

    def post(self, request, pk: int):
        model = self._model(pk)
        self.require("change", model.tenant_id, what="model")
        form = ImportVersionForm(request.POST)
        status = 422
        if form.is_valid():
            try:
                version = services.import_version(model, actor=request.user,
                                                  mlflow_version=form.cleaned_data["mlflow_version"])
            except DomainError as exc:
                raise_for_access(exc)
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                messages.success(request, f"Imported {model.name} v{version.version} from MLflow; "
                                          "its checklist has been evaluated.")
                target = reverse("registry:version_detail", args=[version.pk])
                return HttpResponseClientRedirect(target) if request.htmx else HttpResponseRedirect(target)
        return self.render_page(self.template, self.context(model, form), partial="versions", status=status)


class ModelSyncView(ModelDetailView):
    """Import every MLflow version Slipway does not have yet (the worker also does this on a schedule)."""

    http_method_names = ["post", "options"]

    def post(self, request, pk: int):
        model = self._model(pk)
        self.require("change", model.tenant_id, what="model")
        try:
            imported = services.sync_versions(model, actor=request.user)
        except DomainError as exc:
            raise_for_access(exc)
            messages.error(request, f"Sync failed: {exc.message}")
        else:
            if imported:
                numbers = ", ".join(f"v{v.version}" for v in imported)
                messages.success(request, f"Imported {len(imported)} new version(s) from MLflow: {numbers}.")
            else:
                messages.info(request, f"{model.name} is up to date with MLflow “{model.mlflow_name}”.")
        return HttpResponseRedirect(reverse("registry:model_detail", args=[model.pk]))


class VersionDetailView(ScopedViewMixin, View):
    """A version's metadata and its checklist (attest and waive in place, re-evaluate)."""

    def get(self, request, pk: int):
        from apps.readiness.views import checklist_context

        version = self.get_scoped_or_404(self.scoped(ModelVersion).select_related("model__tenant", "imported_by"),
                                         pk=pk)
        return render(request, "registry/version_detail.html", checklist_context(request, version))
