"""Environments, the instance catalog, deployments, approvals and rollouts.

A Deployment is a request to run a model version in an environment with a configuration;
its Rollout holds every bit of execution progress (step, weights, timestamps, counters) so
the reconciler can be stopped, killed or run twice at any point and pick up from the
database alone (STYLE §4, like Argo's Rollout status).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.scoping import TenantScopedQuerySet
from apps.deployments.choices import (
    ACTIVE,
    TERMINAL,
    ApprovalDecision,
    DeploymentStatus,
    MetricsProviderKind,
    Phase,
    Strategy,
    Verdict,
)


def default_steps() -> list[int]:
    return [5, 25, 50, 100]


def default_cluster() -> dict:
    return {"kind": "url", "url": "http://127.0.0.1:8001"}


class Environment(models.Model):
    """Where deployments run: a cluster connection, traffic/metrics settings and gate thresholds.

    Gate thresholds default to SPEC §3: advance when canary error rate < 1 % and p99 < the
    SLA; roll back when canary error rate > 5 % or p99 > 2 × stable; pause after 3
    inconclusive analyses in a row.
    """

    name = models.SlugField(max_length=40, unique=True)
    display_name = models.CharField(max_length=100)
    cluster = models.JSONField(default=default_cluster, help_text="Cluster connection (url, kubeconfig or eks).")
    namespace_pattern = models.CharField(max_length=100, default="slipway-{tenant}")
    traffic_router = models.CharField(max_length=40, default="gateway-api")
    gateway_name = models.CharField(max_length=100, default="slipway-gateway")
    gateway_namespace = models.CharField(max_length=100, default="slipway-system")
    metrics_provider = models.CharField(max_length=20, choices=MetricsProviderKind.choices,
                                        default=MetricsProviderKind.DEVCLUSTER)
    metrics_config = models.JSONField(default=dict, blank=True,
                                      help_text="Provider settings, e.g. Prometheus URL and PromQL templates.")
    default_steps = models.JSONField(default=default_steps)
    default_soak_seconds = models.PositiveIntegerField(default=60)
    min_soak_seconds = models.PositiveIntegerField(default=30)
    guard_window_seconds = models.PositiveIntegerField(default=600)
    requires_approval = models.BooleanField(default=False)
    approval_ttl_hours = models.PositiveIntegerField(default=72)
    advance_max_error_rate = models.FloatField(default=0.01)
    rollback_error_rate = models.FloatField(default=0.05)
    rollback_latency_ratio = models.FloatField(default=2.0)
    min_requests = models.PositiveIntegerField(default=50, help_text="Fewer canary requests → inconclusive.")
    rollback_min_requests = models.PositiveIntegerField(default=20,
                                                        help_text="Rollback gates need at least this many requests.")
    max_inconclusive = models.PositiveIntegerField(default=3)
    smoke_seconds = models.PositiveIntegerField(default=30)
    position = models.PositiveIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def namespace_for(self, tenant_slug: str) -> str:
        return self.namespace_pattern.format(tenant=tenant_slug)


class InstanceType(models.Model):
    """One row of the instance catalog: hardware and public us-east-1 prices (with their date)."""

    name = models.CharField(max_length=40, unique=True)
    family = models.CharField(max_length=20)
    gpu_model = models.CharField(max_length=40, blank=True)
    gpus = models.PositiveIntegerField(default=0)
    gpu_memory_gib = models.PositiveIntegerField(default=0)
    vcpus = models.PositiveIntegerField()
    memory_gib = models.DecimalField(max_digits=8, decimal_places=2)
    on_demand_usd_hour = models.DecimalField(max_digits=10, decimal_places=4)
    spot_usd_hour = models.DecimalField(max_digits=10, decimal_places=4)
    price_date = models.DateField()
    region = models.CharField(max_length=20, default="us-east-1")
    available = models.BooleanField(default=True)

    class Meta:
        ordering = ["-gpus", "family", "on_demand_usd_hour"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_gpu(self) -> bool:
        return self.gpus > 0

    def hourly_usd(self, spot_percent: int) -> Decimal:
        """Blended price of one instance-hour with `spot_percent` % on spot capacity."""
        share = Decimal(spot_percent) / Decimal(100)
        return (self.on_demand_usd_hour * (1 - share) + self.spot_usd_hour * share).quantize(Decimal("0.0001"))


class DeploymentQuerySet(TenantScopedQuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE)

    def terminal(self):
        return self.filter(status__in=TERMINAL)


class Deployment(models.Model):
    """A request to run `version` in `environment` with `config`.

    `config` is normalised by the service (all defaults filled in) and hashed; an
    approval binds to that hash and to the version's artifact digest. `previous` is the
    deployment that was live when this one started (the stable side of the canary), and
    the one restored by a rollback.
    """

    tenant_path = "tenant"

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="deployments")
    model = models.ForeignKey("registry.Model", on_delete=models.PROTECT, related_name="deployments")
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="deployments")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="deployments")
    status = models.CharField(max_length=20, choices=DeploymentStatus.choices, default=DeploymentStatus.QUEUED,
                              db_index=True)
    status_reason = models.TextField(blank=True)
    strategy = models.CharField(max_length=10, choices=Strategy.choices, default=Strategy.CANARY)
    config = models.JSONField()
    config_hash = models.CharField(max_length=64)
    peak_gpus = models.PositiveIntegerField(default=0)
    reserved_gpus = models.PositiveIntegerField(default=0, help_text="GPUs held while live (min replicas).")
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="successors")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    live_since = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["model", "environment", "status"], name="deploy_model_env_status"),
            models.Index(fields=["tenant", "status"], name="deploy_tenant_status"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.model.name} v{self.version.version} → {self.environment.name}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def namespace(self) -> str:
        return self.environment.namespace_for(self.tenant.slug)

    @property
    def workload(self) -> str:
        return f"{self.model.name}-v{self.version.version}"

    def can_approve(self, user) -> bool:
        """Platform engineers, never the requester (separation of duties)."""
        return (self.status == DeploymentStatus.PENDING_APPROVAL and getattr(user, "is_platform", False)
                and user.pk != self.requested_by_id)


class Approval(models.Model):
    """A platform engineer's decision on a production request.

    Binds to the artifact digest and config hash it was given for; valid until
    `expires_at` unless the rollout started; `used_at` marks it consumed (no replay).
    """

    tenant_path = "deployment__tenant"

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="approvals")
    decision = models.CharField(max_length=10, choices=ApprovalDecision.choices)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True, max_length=5000)
    artifact_digest = models.CharField(max_length=71)
    config_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.decision} by {self.decided_by} for #{self.deployment_id}"

    def is_valid_for(self, deployment: Deployment, *, now=None) -> bool:
        now = now or timezone.now()
        return (self.decision == ApprovalDecision.APPROVED and self.config_hash == deployment.config_hash
                and self.artifact_digest == deployment.version.artifact_digest
                and (self.expires_at is None or self.expires_at > now))


class Rollout(models.Model):
    """The execution state of a deployment: everything the reconciler needs to resume.

    Step advances are compare-and-set on (`step_index`, `generation`): two reconcilers
    that read the same state cannot both apply the next step. `canary_weight` is the
    weight the cluster was last *successfully* told; stable gets 100 − canary_weight.
    """

    tenant_path = "deployment__tenant"

    deployment = models.OneToOneField(Deployment, on_delete=models.CASCADE, related_name="rollout")
    phase = models.CharField(max_length=20, choices=Phase.choices, default=Phase.PENDING)
    steps = models.JSONField(default=list, help_text="Canary weights per step, ending at 100.")
    step_soak_seconds = models.PositiveIntegerField(default=60)
    step_index = models.IntegerField(default=-1, help_text="-1 before the first step.")
    canary_weight = models.PositiveSmallIntegerField(default=0)
    canary_replicas = models.PositiveIntegerField(default=0)
    stable_replicas = models.PositiveIntegerField(default=0)
    batches = models.JSONField(default=list, blank=True,
                               help_text="Rolling strategy: [new_replicas, old_replicas, weight] per batch.")
    step_started_at = models.DateTimeField(null=True, blank=True)
    guard_until = models.DateTimeField(null=True, blank=True)
    inconclusive_count = models.PositiveIntegerField(default=0)
    promote_requested = models.BooleanField(default=False)
    abort_requested = models.BooleanField(default=False)
    abort_reason = models.TextField(blank=True)
    cluster_synced = models.BooleanField(default=False,
                                         help_text="False while the cluster still has to converge (e.g. after a rollback).")
    generation = models.PositiveIntegerField(default=0, help_text="Bumped on every recorded change (CAS token).")
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, db_index=True)
    next_reconcile_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    stable_p99_ms = models.FloatField(null=True, blank=True, help_text="Last measured stable p99 (for the guard).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"rollout of #{self.deployment_id}: {self.phase} step {self.step_index} at {self.canary_weight}%"

    @property
    def stable_weight(self) -> int:
        return 100 - self.canary_weight

    @property
    def current_step_weight(self) -> int | None:
        if 0 <= self.step_index < len(self.steps):
            return self.steps[self.step_index]
        return None


class Analysis(models.Model):
    """One gate evaluation: canary and stable figures over a window, the verdict and why."""

    tenant_path = "rollout__deployment__tenant"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="analyses")
    kind = models.CharField(max_length=20, default="step",
                            help_text="step (end of soak), continuous (rollback gate), smoke, guard.")
    step_index = models.IntegerField()
    canary_weight = models.PositiveSmallIntegerField()
    window_seconds = models.PositiveIntegerField()
    canary_requests = models.PositiveIntegerField(null=True, blank=True)
    canary_errors = models.PositiveIntegerField(null=True, blank=True)
    canary_error_rate = models.FloatField(null=True, blank=True)
    canary_p99_ms = models.FloatField(null=True, blank=True)
    stable_requests = models.PositiveIntegerField(null=True, blank=True)
    stable_error_rate = models.FloatField(null=True, blank=True)
    stable_p99_ms = models.FloatField(null=True, blank=True)
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    gate = models.CharField(max_length=40, blank=True, help_text="The gate that decided, e.g. error_rate.")
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.verdict}: {self.reason}"


class RolloutEvent(models.Model):
    """Who or what did what to a deployment, when (shown on the rollout page)."""

    tenant_path = "deployment__tenant"

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(max_length=150, default="worker")
    kind = models.CharField(max_length=20, help_text="transition, step, traffic, scale, analysis, error, note")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    step_index = models.IntegerField(null=True, blank=True)
    canary_weight = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField()

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.message
