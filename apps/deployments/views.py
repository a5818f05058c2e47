"""Deployment pages: the list, the deploy form with its live preview, the approval queue, the
rollout page that updates itself, and the rollout controls.

Every write calls `deployments.services` (or `devtools` for the local "misbehave" control),
the same functions the API calls; a DomainError becomes a message or a form error, never a
500. Every control is a POST form; its confirmation works without JavaScript (a <details>
reveal with a second submit on the rollout page, or the confirm page a GET of the control's
address shows).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views import View
from django_htmx.http import HttpResponseStopPolling

from apps.core.errors import DomainError
from apps.core.ui import ScopedViewMixin, raise_for_access, safe_next, status_for
from apps.deployments import charts, devtools, services
from apps.deployments.choices import ACTIVE, DeploymentStatus, Strategy
from apps.deployments.filtersets import DeploymentFilterSet
from apps.deployments.forms import (
    DecisionForm,
    DeployForm,
    MisbehaveForm,
    ReasonForm,
    add_service_errors,
    service_errors,
)
from apps.deployments.models import Analysis, Approval, Deployment, Environment, InstanceType, RolloutEvent
from apps.readiness.models import ChecklistDefinition, ChecklistItem
from apps.readiness.services import readiness
from apps.registry.models import Model, ModelVersion

S = DeploymentStatus
HOURS_PER_MONTH = 730

# Status filter choices on the list: single statuses plus the groups people ask for.
STATUS_CHOICES = [("queued,progressing,paused", "Running (queued, progressing, paused)")] + list(S.choices)

# Badge classes of the shared stylesheet per deployment status (one look across the product).
STATUS_BADGE = {
    S.LIVE: "badge-pass", S.PROGRESSING: "badge-platform", S.QUEUED: "badge-platform",
    S.PAUSED: "badge-waived", S.PENDING_APPROVAL: "badge-pending",
    S.ROLLED_BACK: "badge-fail", S.FAILED: "badge-fail",
    S.REJECTED: "badge-source", S.EXPIRED: "badge-source", S.SUPERSEDED: "badge-source",
}


def is_polling(deployment: Deployment) -> bool:
    """Whether the rollout page should keep refreshing: something is still expected to change."""
    if deployment.status in ACTIVE or deployment.status == S.PENDING_APPROVAL:
        return True
    rollout = getattr(deployment, "rollout", None)
    return deployment.status in (S.ROLLED_BACK, S.FAILED, S.LIVE) and rollout is not None \
        and not rollout.cluster_synced and rollout.step_index >= 0


def controls_for(user, deployment: Deployment) -> dict[str, bool]:
    """Which controls the page shows to `user`; the services enforce the same rules."""
    platform = bool(getattr(user, "is_platform", False))
    change = user.can("change", deployment.tenant_id)
    status = deployment.status
    return {
        "approve": deployment.can_approve(user),
        "reject": deployment.can_approve(user),
        "pause": platform and status == S.PROGRESSING,
        "resume": platform and status == S.PAUSED,
        "promote": platform and status in (S.PROGRESSING, S.PAUSED),
        "abort": change and status in ACTIVE,
        "rollback": change and status == S.LIVE and deployment.previous_id is not None,
        "misbehave": devtools.can_misbehave(user, deployment),
    }


def approval_note(user, deployment: Deployment) -> str:
    """Why `user` sees no approve button on a pending request (separation of duties)."""
    if deployment.status != S.PENDING_APPROVAL or deployment.can_approve(user):
        return ""
    if not getattr(user, "is_platform", False):
        return "Waiting for a platform engineer to approve or reject it."
    if deployment.requested_by_id == user.pk:
        return "You requested this deployment; another platform engineer must approve it."
    return ""


def progress_of(deployment: Deployment) -> dict:
    """Step k of n and the canary weight, for list rows, the dashboard and the rollout page."""
    rollout = getattr(deployment, "rollout", None)
    if rollout is None:
        return {"step": 0, "steps": 0, "weight": 0, "stable": 100}
    steps = len(rollout.steps or [])
    step = min(max(rollout.step_index + 1, 0), steps)
    return {"step": step, "steps": steps, "weight": rollout.canary_weight, "stable": 100 - rollout.canary_weight,
            "phase": rollout.get_phase_display()}


def _summary(config: dict) -> str:
    """One line of a deployment's configuration, as a person would read it."""
    if not config:
        return ""
    gpus = config.get("gpus_per_replica", 0)
    replicas = f"{config.get('min_replicas')}–{config.get('max_replicas')}" \
        if config.get("min_replicas") != config.get("max_replicas") else f"{config.get('min_replicas')}"
    spot = f", {config.get('spot_percent')} % spot" if config.get("spot_percent") else ""
    steps = "/".join(str(s) for s in config.get("steps") or [])
    return (f"{replicas}× {config.get('instance_type')} ({gpus} GPU/replica{spot}) · {config.get('strategy')} "
            f"{steps} · soak {config.get('soak_seconds')} s")


class DeploymentListView(ScopedViewMixin, View):
    """Every deployment of my teams, filterable by status, environment and model."""

    page_size = 25

    def get(self, request):
        fs = self.filterset(DeploymentFilterSet, self.scoped(Deployment),
                            labels={"status": "Status", "environment": "Environment", "model": "Model"})
        form = fs.form
        for hidden in ("version",):
            form.fields[hidden].widget = django_forms.HiddenInput()
        form.fields["status"].widget = django_forms.Select(choices=[("", "Any")] + STATUS_CHOICES,
                                                           attrs={"class": "input"})
        form.fields["environment"].widget = django_forms.Select(
            choices=[("", "Any")] + [(e.name, e.display_name) for e in Environment.objects.all()],
            attrs={"class": "input"})
        models = self.team_filtered(self.scoped(Model)).select_related("tenant").only("id", "name", "tenant__slug")
        form.fields["model"].widget = django_forms.Select(
            choices=[("", "Any")] + [(m.pk, f"{m.name} ({m.tenant.slug})") for m in models.order_by("name")],
            attrs={"class": "input"})
        rows = (fs.qs.select_related("model", "version", "environment", "tenant", "requested_by", "rollout")
                .order_by("-created_at", "-id"))
        page = Paginator(rows, self.page_size).get_page(request.GET.get("page"))
        for d in page.object_list:
            d.progress = progress_of(d)
            d.badge = STATUS_BADGE.get(d.status, "badge-source")
        context = {"filters": form, "page": page, "deployments": page.object_list,
                   "filtered": any(request.GET.get(k) for k in ("status", "environment", "model", "tenant"))}
        return self.render_page("deployments/deployment_list.html", context, partial="results",
                                status=422 if form.errors else 200)


# --- deploy form --------------------------------------------------------------------------

class DeployView(ScopedViewMixin, View):
    """/versions/<id>/deploy/: the form; with htmx, every change refreshes the live preview."""

    template = "deployments/deploy_form.html"

    def _version(self, pk: int) -> ModelVersion:
        version = self.get_scoped_or_404(self.scoped(ModelVersion).select_related("model__tenant"), pk=pk)
        self.require("change", version.model.tenant_id, what="version")
        return version

    def _form(self, data=None, *, environment: str | None = None, version: ModelVersion) -> DeployForm:
        environments = list(Environment.objects.all())
        instances = list(InstanceType.objects.filter(available=True))
        chosen = next((e for e in environments if e.name == environment), environments[0] if environments else None)
        initial = DeployForm.initial_for(chosen, version.model) if chosen else {}
        return DeployForm(data, environments=environments, instances=instances, initial=initial)

    def _preview(self, version: ModelVersion, form: DeployForm) -> dict:
        """The live preview of what the form would request (never writes)."""
        if form.is_bound:
            form.is_valid()
            environment = form.cleaned_data.get("environment") or form.data.get("environment")
            config = form.loose_config()
        else:
            environment = form.initial.get("environment")
            config = {k: v for k, v in form.initial.items() if k != "environment"}
            if isinstance(config.get("steps"), str):
                config["steps"] = [int(s) for s in config["steps"].split(",")]
        env = form.environments.get(str(environment or ""))
        errors: list[tuple[str | None, str]] = []
        result = None
        try:
            result = services.preview(version, environment=environment, config=config, actor=self.request.user)
        except DomainError as exc:
            raise_for_access(exc)
            errors = [(field, text) for field, _, text in service_errors(exc, form.fields)]
        field_errors: dict[str, list[str]] = {name: [] for name in form.fields}
        if form.is_bound:
            for name in form.fields:
                field_errors[name] = [f"{form.fields[name].label}: {e}" for e in form.errors.get(name, [])]
        for field, message in errors:
            text = f"{form.fields[field].label}: {message}" if field in form.fields else message
            if field and text not in field_errors.setdefault(field, []):
                field_errors[field].append(text)
        general = [m for f, m in errors if not f]
        context = {"preview": result, "preview_errors": general, "field_errors": field_errors, "env": env,
                   "submit_label": ("Request approval for " if env is not None and env.requires_approval
                                    else "Deploy to ") + (env.display_name if env is not None else "…")}
        if result is not None:
            failing = list(result.failing)
            titles = dict(ChecklistDefinition.objects.filter(key__in=failing).values_list("key", "title"))
            context["failing"] = [titles.get(key, key) for key in failing]
            plan = result.plan
            max_hourly = (result.instance.hourly_usd(result.config["spot_percent"])
                          * result.config["max_replicas"]).quantize(Decimal("0.01"))
            context.update({
                "quota_bar": charts.quota_bar(quota=plan.quota, in_use=plan.in_use, needed=plan.peak_gpus,
                                              fits=plan.fits),
                "max_hourly": max_hourly,
                "monthly": (plan.hourly_usd * HOURS_PER_MONTH).quantize(Decimal("1")),
                "batches": [{"n": i + 1, "new": b[0], "old": b[1], "weight": b[2]}
                            for i, b in enumerate(plan.batches)],
                "rolling": plan.strategy == Strategy.ROLLING,
            })
        return context

    def _render(self, version: ModelVersion, form: DeployForm, *, status: int = 200, partial: str | None = None):
        context = {"version": version, "model": version.model, "form": form, **self._preview(version, form)}
        if partial:
            return render(self.request, f"{self.template}#{partial}", context, status=status)
        return render(self.request, self.template, context, status=status)

    def get(self, request, pk: int):
        version = self._version(pk)
        bound = "instance_type" in request.GET
        form = self._form(request.GET if bound else None, environment=request.GET.get("environment"), version=version)
        htmx = request.htmx and not request.htmx.history_restore_request
        return self._render(version, form, partial="preview" if htmx and bound else None)

    def post(self, request, pk: int):
        version = self._version(pk)
        form = self._form(request.POST, environment=request.POST.get("environment"), version=version)
        if request.POST.get("action") == "preview" or not form.is_valid():
            return self._render(version, form, status=200 if request.POST.get("action") == "preview" else 422)
        try:
            deployment = services.request_deployment(version, environment=form.cleaned_data["environment"],
                                                     config=form.config(), actor=request.user)
        except DomainError as exc:
            raise_for_access(exc)
            add_service_errors(form, exc)
            return self._render(version, form, status=status_for(exc))
        if deployment.status == S.PENDING_APPROVAL:
            messages.success(request, f"Requested {version.model.name} v{version.version} in "
                                      f"{deployment.environment.display_name}. A platform engineer must approve it "
                                      "before the rollout starts.")
        else:
            messages.success(request, f"Deploying {version.model.name} v{version.version} to "
                                      f"{deployment.environment.display_name}. This page follows the rollout.")
        return HttpResponseRedirect(reverse("deployments:deployment_detail", args=[deployment.pk]))


# --- approvals ----------------------------------------------------------------------------

class ApprovalQueueView(ScopedViewMixin, View):
    """Pending production requests: platform engineers decide; team members see theirs read-only."""

    def get(self, request):
        user = request.user
        pending = list(
            self.team_filtered(self.scoped(Deployment)).filter(status=S.PENDING_APPROVAL)
            .select_related("model", "version", "environment", "tenant", "requested_by")
            .prefetch_related(Prefetch("version__checklist",
                                       queryset=ChecklistItem.objects.only("id", "version_id", "key", "status")))
            .order_by("created_at", "id"))
        for d in pending:
            d.readiness = readiness(d.version, list(d.version.checklist.all()))
            d.approvable = d.can_approve(user)
            d.note = approval_note(user, d)
            d.summary = _summary(d.config)
            d.approve_form = DecisionForm(auto_id=f"id_{d.pk}_approve_%s")
            d.reject_form = DecisionForm(auto_id=f"id_{d.pk}_reject_%s")
        decided = list(self.team_filtered(Approval.objects.for_user(user, "view"))
                       .select_related("deployment__model", "deployment__version", "deployment__environment",
                                       "deployment__tenant", "decided_by")[:10])
        context = {"pending": pending, "decided": decided, "is_platform": bool(user.is_platform)}
        return render(request, "deployments/approval_queue.html", context)


# --- the rollout page -----------------------------------------------------------------------

def rollout_context(user, deployment: Deployment) -> dict:
    """Everything the rollout page and its polled fragment show (a constant number of queries)."""
    rollout = getattr(deployment, "rollout", None)
    env = deployment.environment
    analyses: list[Analysis] = []
    events: list[RolloutEvent] = []
    chart = ""
    if rollout is not None:
        analyses = list(reversed(rollout.analyses.order_by("-created_at", "-id")[:500]))
        gates = services_gates(deployment)
        chart = charts.rollout_chart(analyses, stable_p99_ms=rollout.stable_p99_ms, **gates)
    events = list(deployment.events.select_related(None).order_by("-created_at", "-id")[:40])
    decisive = [a for a in reversed(analyses) if a.kind != "continuous" or a.verdict != "ok"][:20]
    continuous = sum(1 for a in analyses if a.kind == "continuous")
    approval = deployment.approvals.select_related("decided_by").first()
    polling = is_polling(deployment)
    return {
        "d": deployment, "rollout": rollout, "env": env, "chart": chart, "analyses": decisive,
        "continuous_count": continuous, "events": events, "approval": approval,
        "progress": progress_of(deployment), "badge": STATUS_BADGE.get(deployment.status, "badge-source"),
        "controls": controls_for(user, deployment), "control_list": control_list(user, deployment),
        "approval_note": approval_note(user, deployment),
        "polling": polling, "summary": _summary(deployment.config),
        "local": devtools.is_local(env), "reason_form": ReasonForm(), "decision_form": DecisionForm(),
        "misbehave_form": MisbehaveForm(), "behaviours": devtools.BEHAVIOURS,
        "last_analysis": analyses[-1] if analyses else None,
    }


# Order and look of the rollout page's controls: (action, button label, button class).
CONTROL_BUTTONS = [
    ("approve", "Approve", "btn-primary"), ("reject", "Reject", "btn-danger-ghost"),
    ("promote", "Promote", ""), ("pause", "Pause", ""), ("resume", "Resume", "btn-primary"),
    ("abort", "Abort", "btn-danger-ghost"), ("rollback", "Roll back", "btn-danger-ghost"),
]


def control_list(user, deployment: Deployment) -> list[dict]:
    """The controls `user` gets, each with its confirmation question and its form."""
    allowed = controls_for(user, deployment)
    out = []
    for action, label, css in CONTROL_BUTTONS:
        if not allowed.get(action):
            continue
        _, form_class, _, question = ACTIONS[action]
        out.append({"action": action, "label": label, "css": css, "question": question,
                    "url": reverse(f"deployments:deployment_{action}", args=[deployment.pk]),
                    "form": form_class(auto_id=f"id_{action}_%s")})
    return out


def services_gates(deployment: Deployment) -> dict:
    env = deployment.environment
    return {"sla_p99_ms": float(deployment.config.get("sla_p99_ms") or deployment.model.sla_p99_ms),
            "rollback_error_rate": env.rollback_error_rate, "advance_max_error_rate": env.advance_max_error_rate,
            "rollback_latency_ratio": env.rollback_latency_ratio}


class _DeploymentMixin(ScopedViewMixin):
    def deployment(self, pk: int) -> Deployment:
        return self.get_scoped_or_404(
            self.scoped(Deployment).select_related("model", "version", "environment", "tenant", "requested_by",
                                                   "rollout", "previous__version"), pk=pk)


class DeploymentDetailView(_DeploymentMixin, View):
    """/deployments/<id>/: the rollout page. htmx polls the live fragment every 2 s while it runs."""

    template = "deployments/deployment_detail.html"

    def get(self, request, pk: int):
        deployment = self.deployment(pk)
        context = rollout_context(request.user, deployment)
        htmx = request.htmx and not request.htmx.history_restore_request
        if not htmx:
            return render(request, self.template, context)
        # The controls are re-sent (out of band) only when the status changed, so polling
        # never closes a confirmation someone is halfway through.
        context["controls_oob"] = request.GET.get("status") != deployment.status
        body = render_to_string(f"{self.template}#poll", context, request=request)
        if not context["polling"]:
            return HttpResponseStopPolling(body)
        return HttpResponse(body)


# --- controls -----------------------------------------------------------------------------

ACTIONS = {
    # action: (service, form, past tense, confirm text)
    "approve": ("approve", DecisionForm, "approved", "Approve this production request? The rollout starts within a tick."),
    "reject": ("reject", DecisionForm, "rejected", "Reject this production request? Say why; the requester sees it."),
    "pause": ("pause", ReasonForm, "paused", "Pause the rollout where it is? The rollback gates keep running."),
    "resume": ("resume", ReasonForm, "resumed", "Resume the rollout? The current step's soak starts again."),
    "promote": ("promote", ReasonForm, "promoted", "Promote now? The next tick advances one step without waiting "
                                                   "for the soak."),
    "abort": ("abort", ReasonForm, "aborted", "Abort the rollout? All traffic goes back to the stable version and "
                                              "the new version is scaled to zero."),
    "rollback": ("rollback", ReasonForm, "rolled back", "Roll back? The previous live version is restored at once."),
}


class ControlView(_DeploymentMixin, View):
    """POST runs the control through the service; GET shows a confirmation page (no JS needed)."""

    action: str = ""
    template = "deployments/control_confirm.html"

    def _check(self, deployment: Deployment) -> None:
        if not self.request.user.can("view", deployment.tenant_id):
            raise PermissionDenied("Not permitted.")
        allowed = controls_for(self.request.user, deployment).get(self.action, False)
        if not allowed:
            # Say what a person can do about it: viewers and data scientists get 403 with the rule.
            if not self.request.user.can("change", deployment.tenant_id):
                raise PermissionDenied("Your role in this team cannot change deployments; viewers only read.")
            if self.action in ("pause", "resume", "promote", "approve", "reject") and not self.request.user.is_platform:
                raise PermissionDenied(f"Only platform engineers can {self.action} deployments.")

    def _render(self, deployment, form, *, error: str = "", status: int = 200):
        service, _, _, question = ACTIONS[self.action]
        context = {"d": deployment, "action": self.action, "form": form, "question": question, "error": error,
                   "next": safe_next(self.request, self.request.GET.get("next") or self.request.POST.get("next"),
                                     reverse("deployments:deployment_detail", args=[deployment.pk])),
                   "note": approval_note(self.request.user, deployment), "badge": STATUS_BADGE.get(deployment.status)}
        return render(self.request, self.template, context, status=status)

    def get(self, request, pk: int):
        deployment = self.deployment(pk)
        self._check(deployment)
        return self._render(deployment, ACTIONS[self.action][1]())

    def post(self, request, pk: int):
        deployment = self.deployment(pk)
        if not request.user.can("change", deployment.tenant_id) and not request.user.is_platform:
            raise PermissionDenied("Your role in this team cannot change deployments; viewers only read.")
        service, form_class, done, _ = ACTIONS[self.action]
        form = form_class(request.POST)
        if not form.is_valid():
            return self._render(deployment, form, status=422)
        text = form.cleaned_data.get("comment", form.cleaned_data.get("reason", ""))
        kwargs = {"comment": text} if form_class is DecisionForm else {"reason": text}
        try:
            getattr(services, service)(deployment, actor=request.user, **kwargs)
        except DomainError as exc:
            raise_for_access(exc)
            if exc.field in ("comment", "reason"):  # e.g. a rejection without a comment
                add_service_errors(form, exc)
                return self._render(deployment, form, status=status_for(exc))
            return self._render(deployment, form, error=exc.message, status=status_for(exc))
        messages.success(request, f"Deployment #{deployment.pk} {done}.")
        target = safe_next(request, request.POST.get("next"),
                           reverse("deployments:deployment_detail", args=[deployment.pk]))
        return HttpResponseRedirect(target)


class MisbehaveView(_DeploymentMixin, View):
    """Local mode: make the canary misbehave through the dev cluster's admin API."""

    def post(self, request, pk: int):
        deployment = self.deployment(pk)
        form = MisbehaveForm(request.POST)
        if not request.user.can("change", deployment.tenant_id):
            raise PermissionDenied("Your role in this team cannot change deployments; viewers only read.")
        target = reverse("deployments:deployment_detail", args=[deployment.pk])
        if not form.is_valid():
            messages.error(request, "Choose how the canary should misbehave: error rate, latency or reset.")
            return HttpResponseRedirect(target)
        behaviour = form.cleaned_data["behaviour"]
        try:
            devtools.misbehave(deployment, behaviour=behaviour, actor=request.user)
        except DomainError as exc:
            raise_for_access(exc)
            messages.error(request, exc.message)
        else:
            label = devtools.BEHAVIOURS[behaviour][0]
            messages.success(request, f"{deployment.workload} now behaves: {label}. "
                                      "Watch the gates on this page.")
        return HttpResponseRedirect(target)
