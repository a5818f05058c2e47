"""Drift pages: the team-wide overview (drifting models first) and a model's drift page.

The model page shows, for one version: the PSI heatmap (features × reports), the top drifting
features with baseline-vs-current histograms, the severity timeline, the actions taken, and
the controls — compute now, acknowledge, the policy. Every write calls `apps.drift.services`,
the same functions as the API; queries per page do not grow with the number of reports.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.views import View

from apps.core.errors import DomainError
from apps.core.ui import ScopedViewMixin, add_domain_errors, raise_for_access, status_for
from apps.drift import charts, services
from apps.drift.choices import SEVERITY_RANK, ActionKind, Severity
from apps.drift.forms import AcknowledgeForm, ComputeForm, PolicyForm
from apps.drift.models import Baseline, DriftAction, DriftReport
from apps.registry.models import Model, ModelVersion

HISTORY = 48         # reports on the heatmap and timeline
TOP_FEATURES = 3     # histograms shown
HEATMAP_FEATURES = 16


class DriftOverviewView(ScopedViewMixin, View):
    """Every model of my teams that is monitored, the drifting ones first."""

    def get(self, request):
        latest = DriftReport.objects.filter(model=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:1]
        models = list(self.team_filtered(self.scoped(Model)).select_related("tenant")
                      .annotate(latest_report_id=Subquery(latest)))
        reports = {r.pk: r for r in DriftReport.objects.filter(
            pk__in=[m.latest_report_id for m in models if m.latest_report_id]).select_related("version")}
        baselines = set(Baseline.objects.filter(version__model__in=[m.pk for m in models])
                        .values_list("version__model_id", flat=True))
        rows = []
        for model in models:
            report = reports.get(model.latest_report_id)
            if report is None and model.pk not in baselines:
                continue
            rows.append({"model": model, "report": report, "has_baseline": model.pk in baselines})
        rows.sort(key=lambda r: (-SEVERITY_RANK.get(r["report"].severity, 0) if r["report"] else 1,
                                 -(r["report"].max_psi if r["report"] else -1), r["model"].name))
        unmonitored = [m for m in models if m.pk not in baselines and not m.latest_report_id]
        counts = {level: sum(1 for r in rows if r["report"] and r["report"].severity == level)
                  for level in Severity.values}
        return self.render_page("drift/overview.html", {"rows": rows, "unmonitored": unmonitored,
                                                        "counts": counts, "team": self.team})


def _report_columns(reports: list[DriftReport]) -> list[dict]:
    return [{"label": r.created_at.strftime("%d %H:%M"), "title": r.created_at.strftime("%Y-%m-%d %H:%M UTC"),
             "psi": {**r.psi, **({"prediction": r.prediction_psi} if r.prediction_psi is not None else {})}}
            for r in reports]


def model_drift_context(request, model: Model, version: ModelVersion | None, *, ack_form=None, compute_form=None,
                        policy_form=None) -> dict:
    policy = services.policy_for(model)
    thresholds = policy.thresholds
    versions = list(model.versions.order_by("-version").only("id", "version", "model_id"))
    with_baseline = set(Baseline.objects.filter(version__model=model).values_list("version_id", flat=True))
    context = {"model": model, "versions": versions, "with_baseline": with_baseline, "version": version,
               "policy": policy, "thresholds": thresholds,
               "policy_form": policy_form or PolicyForm(initial={
                   "action": policy.action, "low_threshold": policy.low_threshold,
                   "medium_threshold": policy.medium_threshold, "high_threshold": policy.high_threshold,
                   "window_hours": policy.window_hours, "min_rows": policy.min_rows}),
               "ack_form": ack_form or AcknowledgeForm(), "compute_form": compute_form}
    if version is None:
        return context
    baseline = Baseline.objects.filter(version=version).first()
    reports = list(DriftReport.objects.filter(version=version).select_related("acknowledged_by")
                   .prefetch_related(Prefetch("actions", queryset=DriftAction.objects.order_by("created_at", "id")))
                   .order_by("-created_at", "-id")[:HISTORY])
    reports.reverse()  # oldest first, for the charts
    latest = reports[-1] if reports else None
    context.update({"baseline": baseline, "reports": reports, "latest": latest,
                    "recent": list(reversed(reports[-10:]))})
    if latest is not None:
        ranked = sorted(latest.psi.items(), key=lambda kv: -kv[1])
        features = [name for name, _ in ranked][:HEATMAP_FEATURES]
        if latest.prediction_psi is not None:
            features.append("prediction")
        context["heatmap"] = charts.heatmap(features, _report_columns(reports), thresholds)
        context["timeline"] = charts.timeline([
            {"label": r.created_at.strftime("%d %H:%M"), "title": r.created_at.strftime("%Y-%m-%d %H:%M UTC"),
             "value": r.max_psi, "severity": r.severity,
             "acted": any(a.kind in (ActionKind.ROLLED_BACK, ActionKind.ALERTED, ActionKind.NOTIFIED)
                          for a in r.actions.all())} for r in reports], thresholds)
        top = []
        for name, value in ranked[:TOP_FEATURES]:
            spec = baseline.features.get(name) if baseline and baseline.revision == latest.baseline_revision else None
            current = latest.current.get(name)
            svg = charts.histograms(charts.bucket_labels(spec), spec["counts"], current) if spec and current else ""
            top.append({"name": name, "psi": value, "severity": services.psimath.severity(value, thresholds),
                        "kind": spec["kind"] if spec else "", "chart": svg})
        if latest.prediction_psi is not None and baseline and baseline.prediction \
                and baseline.revision == latest.baseline_revision:
            current = latest.current.get(services.PREDICTION)
            top.append({"name": "prediction", "psi": latest.prediction_psi,
                        "severity": services.psimath.severity(latest.prediction_psi, thresholds),
                        "kind": baseline.prediction["kind"],
                        "chart": charts.histograms(charts.bucket_labels(baseline.prediction),
                                                   baseline.prediction["counts"], current) if current else ""})
        context["top"] = top
        context["actions"] = [a for r in reversed(reports) for a in r.actions.all()][:30]
        context["blocking"] = latest if latest.needs_acknowledgement else None
    return context


class ModelDriftView(ScopedViewMixin, View):
    """One model's drift: pick a version (default: the one reported on last)."""

    def _model(self, pk: int) -> Model:
        return self.get_scoped_or_404(self.scoped(Model).select_related("tenant"), pk=pk)

    def _version(self, model: Model) -> ModelVersion | None:
        wanted = self.request.GET.get("version", "")
        if wanted.isdigit() and len(wanted) < 19:
            return self.get_scoped_or_404(ModelVersion.objects.filter(model=model), pk=int(wanted))
        last = DriftReport.objects.filter(model=model).order_by("-created_at", "-id").values_list(
            "version_id", flat=True).first()
        if last is None:
            last = Baseline.objects.filter(version__model=model).order_by("-updated_at").values_list(
                "version_id", flat=True).first()
        return ModelVersion.objects.filter(pk=last).first() if last else model.versions.order_by("-version").first()

    def get(self, request, pk: int):
        model = self._model(pk)
        return self.render_page("drift/model_drift.html", model_drift_context(request, model, self._version(model)))


def _back(model_pk: int, version_pk: int | None = None) -> str:
    url = reverse("drift:model_drift", args=[model_pk])
    return f"{url}?version={version_pk}" if version_pk else url


class ReportComputeView(ModelDriftView):
    """"Compute now": the same service as `POST /api/v1/drift/reports/`."""

    http_method_names = ["post", "options"]

    def post(self, request, pk: int):
        model = self._model(pk)
        self.require("change", model.tenant_id, what="model")
        form = ComputeForm(request.POST)
        version = None
        if form.is_valid():
            version = model.versions.filter(pk=form.cleaned_data["version"]).first()
            if version is None:
                form.add_error("version", "Not a version of this model.")
        if version is not None:
            try:
                report = services.compute_report(version, actor=request.user, trigger="manual")
            except DomainError as exc:
                raise_for_access(exc)
                messages.error(request, exc.message)
            else:
                messages.success(request, f"Report computed: {report.severity} (max PSI {report.max_psi:.3f} on "
                                          f"{report.top_feature}).")
            return HttpResponseRedirect(_back(model.pk, version.pk))
        context = model_drift_context(request, model, self._version(model), compute_form=form)
        return self.render_page("drift/model_drift.html", context, status=422)


class ReportAcknowledgeView(ScopedViewMixin, View):
    http_method_names = ["post", "options"]

    def post(self, request, pk: int):
        report = self.get_scoped_or_404(self.scoped(DriftReport).select_related("model__tenant", "version"), pk=pk)
        self.require("change", report.model.tenant_id, what="drift report")
        form = AcknowledgeForm(request.POST)
        if form.is_valid():
            try:
                services.acknowledge(report, actor=request.user, note=form.cleaned_data["note"])
            except DomainError as exc:
                raise_for_access(exc)
                messages.error(request, exc.message)
            else:
                messages.success(request, f"Drift of {report.version} acknowledged: production rollouts of it are "
                                          "allowed again.")
            return HttpResponseRedirect(_back(report.model_id, report.version_id))
        context = model_drift_context(request, report.model, report.version, ack_form=form)
        return self.render_page("drift/model_drift.html", context, status=422)


class PolicyEditView(ModelDriftView):
    http_method_names = ["post", "options"]

    def post(self, request, pk: int):
        model = self._model(pk)
        self.require("change", model.tenant_id, what="model")
        form = PolicyForm(request.POST)
        status = 422
        if form.is_valid():
            try:
                services.update_policy(model, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                raise_for_access(exc)
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                messages.success(request, f"Drift policy of {model.name} saved.")
                return HttpResponseRedirect(_back(model.pk))
        context = model_drift_context(request, model, self._version(model), policy_form=form)
        return self.render_page("drift/model_drift.html", context, status=status)
