"""API shapes of environments, the instance catalog, deployments, plans and rollout controls.

Input serializers check shape only (types, lengths, NUL bytes, unknown keys); the rules
(config ranges, quota, readiness, who may approve) are apps.deployments.services'.
Output serializers declare their fields for the OpenAPI schema and render by hand, like
the other apps' (apps.core.serializers explains why).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rest_framework import serializers

from apps.core.serializers import RefuseUnknownFieldsMixin, StrictCharField, iso
from apps.deployments.choices import ApprovalDecision, DeploymentStatus, Phase, Strategy, Verdict
from apps.deployments.models import Analysis, Approval, Deployment, Environment, InstanceType, RolloutEvent
from apps.deployments.services import MAX_COMMENT, Preview

MAX_ID = 2**63 - 1


class ProblemErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    field = serializers.CharField(allow_null=True, help_text="e.g. `config.soak_seconds`, `version`, `comment`.")
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem detail (served as `application/problem+json`); branch on `code`."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="e.g. invalid_transition, self_approval, gpu_quota_exceeded, "
                                           "version_not_ready, comment_required.")
    errors = ProblemErrorSerializer(many=True)
    gpu = serializers.DictField(child=serializers.IntegerField(), required=False,
                                help_text="gpu_quota_exceeded only: quota, in_use, headroom, needed.")


# --- environments and the catalog ----------------------------------------------------------

def redacted_endpoint(cluster: dict) -> str:
    """Where an environment's cluster is, without anything that grants access to it.

    Tokens, CA files, kubeconfig paths and role ARNs are never shown; a URL loses its
    user-info, path and query (they can carry credentials).
    """
    if not isinstance(cluster, dict):
        return ""
    kind = cluster.get("kind")
    if kind == "url":
        try:
            parts = urlsplit(str(cluster.get("url", "")))
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return ""
        return f"{parts.scheme}://{host}{port}" if host else ""
    if kind == "eks":
        return f"eks://{str(cluster.get('region', ''))[:40]}/{str(cluster.get('cluster_name', ''))[:100]}"
    if kind == "kubeconfig":
        context = cluster.get("context")
        return f"kubeconfig context {str(context)[:100]}" if context else "kubeconfig (current context)"
    return ""


class ClusterSummarySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["url", "kubeconfig", "eks"])
    endpoint = serializers.CharField(help_text="Redacted: scheme, host and port; EKS region and cluster name.")


class GatesSerializer(serializers.Serializer):
    advance_max_error_rate = serializers.FloatField(help_text="Advance only below this canary error rate.")
    rollback_error_rate = serializers.FloatField(help_text="Roll back at once above this canary error rate.")
    rollback_latency_ratio = serializers.FloatField(help_text="Roll back when canary p99 > ratio × stable p99.")
    min_requests = serializers.IntegerField(help_text="Fewer canary requests in a step window → inconclusive.")
    rollback_min_requests = serializers.IntegerField()
    max_inconclusive = serializers.IntegerField(help_text="Inconclusive analyses in a row before pausing.")


class EnvironmentSerializer(serializers.Serializer):
    """An environment's rollout policy. The cluster connection is summarised, never shown."""

    name = serializers.CharField()
    display_name = serializers.CharField()
    requires_approval = serializers.BooleanField()
    approval_ttl_hours = serializers.IntegerField()
    namespace_pattern = serializers.CharField()
    traffic_router = serializers.CharField()
    metrics_provider = serializers.CharField()
    default_steps = serializers.ListField(child=serializers.IntegerField())
    default_soak_seconds = serializers.IntegerField()
    min_soak_seconds = serializers.IntegerField()
    guard_window_seconds = serializers.IntegerField()
    smoke_seconds = serializers.IntegerField()
    gates = GatesSerializer()
    cluster = ClusterSummarySerializer()

    def to_representation(self, env: Environment) -> dict:
        cluster = env.cluster if isinstance(env.cluster, dict) else {}
        return {
            "name": env.name,
            "display_name": env.display_name,
            "requires_approval": env.requires_approval,
            "approval_ttl_hours": env.approval_ttl_hours,
            "namespace_pattern": env.namespace_pattern,
            "traffic_router": env.traffic_router,
            "metrics_provider": env.metrics_provider,
            "default_steps": env.default_steps,
            "default_soak_seconds": env.default_soak_seconds,
            "min_soak_seconds": env.min_soak_seconds,
            "guard_window_seconds": env.guard_window_seconds,
            "smoke_seconds": env.smoke_seconds,
            "gates": {
                "advance_max_error_rate": env.advance_max_error_rate,
                "rollback_error_rate": env.rollback_error_rate,
                "rollback_latency_ratio": env.rollback_latency_ratio,
                "min_requests": env.min_requests,
                "rollback_min_requests": env.rollback_min_requests,
                "max_inconclusive": env.max_inconclusive,
            },
            "cluster": {"kind": str(cluster.get("kind", ""))[:20], "endpoint": redacted_endpoint(cluster)},
        }


class InstanceTypeSerializer(serializers.Serializer):
    """One row of the instance catalog with public us-east-1 prices and their date."""

    name = serializers.CharField()
    family = serializers.CharField()
    gpu = serializers.BooleanField()
    gpu_model = serializers.CharField()
    gpus = serializers.IntegerField()
    gpu_memory_gib = serializers.IntegerField(help_text="Per GPU.")
    vcpus = serializers.IntegerField()
    memory_gib = serializers.DecimalField(max_digits=8, decimal_places=2)
    on_demand_usd_hour = serializers.DecimalField(max_digits=10, decimal_places=4)
    spot_usd_hour = serializers.DecimalField(max_digits=10, decimal_places=4, help_text="Typical; spot moves hourly.")
    price_date = serializers.DateField()
    region = serializers.CharField()
    available = serializers.BooleanField()

    def to_representation(self, it: InstanceType) -> dict:
        return {
            "name": it.name,
            "family": it.family,
            "gpu": it.is_gpu,
            "gpu_model": it.gpu_model,
            "gpus": it.gpus,
            "gpu_memory_gib": it.gpu_memory_gib,
            "vcpus": it.vcpus,
            "memory_gib": f"{it.memory_gib:.2f}",
            "on_demand_usd_hour": f"{it.on_demand_usd_hour:.4f}",
            "spot_usd_hour": f"{it.spot_usd_hour:.4f}",
            "price_date": it.price_date.isoformat(),
            "region": it.region,
            "available": it.available,
        }


# --- deployments: output -------------------------------------------------------------------

class DeploymentSerializer(serializers.Serializer):
    """A deployment in a list: what, where, state and rollout position (no analyses/events)."""

    id = serializers.IntegerField()
    tenant = serializers.CharField(help_text="Team slug.")
    model = serializers.IntegerField(help_text="Model id.")
    model_name = serializers.CharField()
    version = serializers.IntegerField(help_text="Model version id.")
    version_number = serializers.IntegerField(help_text="The MLflow version number.")
    environment = serializers.CharField(help_text="Environment name.")
    status = serializers.ChoiceField(choices=DeploymentStatus.choices)
    status_reason = serializers.CharField()
    strategy = serializers.ChoiceField(choices=Strategy.choices)
    phase = serializers.ChoiceField(choices=Phase.choices, allow_null=True)
    step_index = serializers.IntegerField(allow_null=True, help_text="-1 before the first step.")
    canary_weight = serializers.IntegerField(allow_null=True, help_text="Percent of traffic on the new version.")
    peak_gpus = serializers.IntegerField()
    reserved_gpus = serializers.IntegerField()
    previous = serializers.IntegerField(allow_null=True, help_text="The deployment that was live when this started.")
    requested_by = serializers.CharField(help_text="Username.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    live_since = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, d: Deployment) -> dict:
        # Attribute reads only: the viewset select_related()s every relation used here.
        rollout = getattr(d, "rollout", None)
        return {
            "id": d.pk,
            "tenant": d.tenant.slug,
            "model": d.model_id,
            "model_name": d.model.name,
            "version": d.version_id,
            "version_number": d.version.version,
            "environment": d.environment.name,
            "status": d.status,
            "status_reason": d.status_reason,
            "strategy": d.strategy,
            "phase": rollout.phase if rollout else None,
            "step_index": rollout.step_index if rollout else None,
            "canary_weight": rollout.canary_weight if rollout else None,
            "peak_gpus": d.peak_gpus,
            "reserved_gpus": d.reserved_gpus,
            "previous": d.previous_id,
            "requested_by": d.requested_by.username,
            "created_at": iso(d.created_at),
            "updated_at": iso(d.updated_at),
            "started_at": iso(d.started_at),
            "live_since": iso(d.live_since),
            "finished_at": iso(d.finished_at),
        }


class RolloutSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(choices=Phase.choices)
    steps = serializers.ListField(child=serializers.IntegerField(), help_text="Canary weights per step.")
    step_index = serializers.IntegerField()
    step_soak_seconds = serializers.IntegerField()
    step_started_at = serializers.DateTimeField(allow_null=True)
    canary_weight = serializers.IntegerField()
    stable_weight = serializers.IntegerField()
    canary_replicas = serializers.IntegerField()
    stable_replicas = serializers.IntegerField()
    batches = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()),
                                    help_text="Rolling strategy: [new replicas, old replicas, weight] per batch.")
    guard_until = serializers.DateTimeField(allow_null=True)
    inconclusive_count = serializers.IntegerField()
    promote_requested = serializers.BooleanField()
    abort_requested = serializers.BooleanField()
    abort_reason = serializers.CharField()
    cluster_synced = serializers.BooleanField()
    last_reconciled_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()


class AnalysisSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="step, continuous, smoke or guard.")
    step_index = serializers.IntegerField()
    canary_weight = serializers.IntegerField()
    window_seconds = serializers.IntegerField()
    canary_requests = serializers.IntegerField(allow_null=True)
    canary_errors = serializers.IntegerField(allow_null=True)
    canary_error_rate = serializers.FloatField(allow_null=True)
    canary_p99_ms = serializers.FloatField(allow_null=True)
    stable_requests = serializers.IntegerField(allow_null=True)
    stable_error_rate = serializers.FloatField(allow_null=True)
    stable_p99_ms = serializers.FloatField(allow_null=True)
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    gate = serializers.CharField()
    reason = serializers.CharField()


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(help_text="Username, or 'worker'.")
    kind = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    step_index = serializers.IntegerField(allow_null=True)
    canary_weight = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class ApprovalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=ApprovalDecision.choices)
    decided_by = serializers.CharField()
    comment = serializers.CharField()
    artifact_digest = serializers.CharField(help_text="The artifact the decision binds to.")
    config_hash = serializers.CharField(help_text="The configuration the decision binds to.")
    expires_at = serializers.DateTimeField(allow_null=True)
    used_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class ClusterObjectsSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    workload = serializers.CharField(help_text="The Deployment/Service/HPA name of this version.")


def _analysis(a: Analysis) -> dict:
    return {
        "id": a.pk, "created_at": iso(a.created_at), "kind": a.kind, "step_index": a.step_index,
        "canary_weight": a.canary_weight, "window_seconds": a.window_seconds, "canary_requests": a.canary_requests,
        "canary_errors": a.canary_errors, "canary_error_rate": a.canary_error_rate, "canary_p99_ms": a.canary_p99_ms,
        "stable_requests": a.stable_requests, "stable_error_rate": a.stable_error_rate,
        "stable_p99_ms": a.stable_p99_ms, "verdict": a.verdict, "gate": a.gate, "reason": a.reason,
    }


def _event(e: RolloutEvent) -> dict:
    return {
        "id": e.pk, "created_at": iso(e.created_at), "actor": e.actor_label, "kind": e.kind,
        "from_status": e.from_status, "to_status": e.to_status, "step_index": e.step_index,
        "canary_weight": e.canary_weight, "message": e.message,
    }


def _approval(a: Approval) -> dict:
    return {
        "id": a.pk, "decision": a.decision, "decided_by": a.decided_by.username, "comment": a.comment,
        "artifact_digest": a.artifact_digest, "config_hash": a.config_hash, "expires_at": iso(a.expires_at),
        "used_at": iso(a.used_at), "created_at": iso(a.created_at),
    }


class DeploymentDetailSerializer(DeploymentSerializer):
    """One deployment with its configuration and rollout: every analysis, event and approval."""

    config = serializers.JSONField(help_text="The normalised configuration (every default filled in).")
    config_hash = serializers.CharField()
    rollout = RolloutSerializer(allow_null=True)
    analyses = AnalysisSerializer(many=True)
    events = EventSerializer(many=True)
    approvals = ApprovalSerializer(many=True)
    cluster = ClusterObjectsSerializer(help_text="Where the version runs in the environment's cluster.")

    def to_representation(self, d: Deployment) -> dict:
        data = super().to_representation(d)
        rollout = getattr(d, "rollout", None)
        data.update({
            "config": d.config,
            "config_hash": d.config_hash,
            "rollout": None if rollout is None else {
                "phase": rollout.phase, "steps": rollout.steps, "step_index": rollout.step_index,
                "step_soak_seconds": rollout.step_soak_seconds, "step_started_at": iso(rollout.step_started_at),
                "canary_weight": rollout.canary_weight, "stable_weight": rollout.stable_weight,
                "canary_replicas": rollout.canary_replicas, "stable_replicas": rollout.stable_replicas,
                "batches": rollout.batches, "guard_until": iso(rollout.guard_until),
                "inconclusive_count": rollout.inconclusive_count, "promote_requested": rollout.promote_requested,
                "abort_requested": rollout.abort_requested, "abort_reason": rollout.abort_reason,
                "cluster_synced": rollout.cluster_synced, "last_reconciled_at": iso(rollout.last_reconciled_at),
                "last_error": rollout.last_error,
            },
            "analyses": [_analysis(a) for a in rollout.analyses.all()] if rollout is not None else [],
            "events": [_event(e) for e in d.events.all()],
            "approvals": [_approval(a) for a in d.approvals.all()],
            "cluster": {"namespace": d.namespace, "workload": d.workload},
        })
        return data


# --- deployments: input --------------------------------------------------------------------

class DeploymentRequestSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    """`POST /api/v1/deployments/` and `/plan/`. The config's rules are the service's."""

    version = serializers.IntegerField(min_value=1, max_value=MAX_ID,
                                       help_text="Id of a model version of one of your teams.")
    environment = StrictCharField(max_length=40, help_text="Environment name, e.g. `staging`.")
    config = serializers.JSONField(required=False, help_text=(
        "Object with any of: instance_type, gpus_per_replica, min_replicas, max_replicas, spot_percent, "
        "strategy (canary|rolling), steps, soak_seconds, sla_p99_ms, autoscaling {queue_depth, gpu_utilization}, "
        "image. Omitted settings take the environment's and model's defaults."))

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("version"), bool):
            # DRF's IntegerField reads true as 1: a JSON boolean is no id.
            raise serializers.ValidationError({"version": [serializers.ErrorDetail(
                "A valid integer is required.", code="invalid")]})
        return super().to_internal_value(data)


class CommentSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    """Approve (comment optional) or reject (comment required, checked by the service)."""

    comment = StrictCharField(max_length=MAX_COMMENT, required=False, allow_blank=True, trim_whitespace=True)


class ReasonSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    """Pause, resume, promote, abort, rollback: an optional reason recorded with the event."""

    reason = StrictCharField(max_length=MAX_COMMENT, required=False, allow_blank=True, trim_whitespace=True)


# --- plan ----------------------------------------------------------------------------------

class PlanInstanceSerializer(serializers.Serializer):
    name = serializers.CharField()
    gpus = serializers.IntegerField()
    gpu_model = serializers.CharField()
    on_demand_usd_hour = serializers.DecimalField(max_digits=10, decimal_places=4)
    spot_usd_hour = serializers.DecimalField(max_digits=10, decimal_places=4)
    price_date = serializers.DateField()


class PlanSerializer(serializers.Serializer):
    """What a request would do, computed without writing anything."""

    config = serializers.JSONField(help_text="The normalised configuration the request would store.")
    strategy = serializers.ChoiceField(choices=Strategy.choices)
    peak_gpus = serializers.IntegerField(help_text="Extra GPUs needed at the plan's peak.")
    reserved_gpus = serializers.IntegerField(help_text="GPUs held once live.")
    quota = serializers.IntegerField()
    in_use = serializers.IntegerField()
    headroom = serializers.IntegerField()
    fits = serializers.BooleanField()
    batches = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    hourly_usd = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="At min replicas.")
    message = serializers.CharField()
    requires_approval = serializers.BooleanField()
    ready = serializers.BooleanField(help_text="Every checklist item passed or waived.")
    failing = serializers.ListField(child=serializers.CharField(), help_text="Checklist keys not yet satisfied.")
    would_be_refused = serializers.BooleanField(
        help_text="True when a request with this body would be refused (quota, or not ready for an "
                  "environment that needs approval).")
    previous = serializers.IntegerField(allow_null=True, help_text="The live deployment this would replace.")
    instance = PlanInstanceSerializer()

    def to_representation(self, p: Preview) -> dict:
        env_requires_approval = bool(self.context.get("requires_approval"))
        return {
            "config": p.config,
            "strategy": p.plan.strategy,
            "peak_gpus": p.plan.peak_gpus,
            "reserved_gpus": p.plan.reserved_gpus,
            "quota": p.plan.quota,
            "in_use": p.plan.in_use,
            "headroom": p.plan.headroom,
            "fits": p.plan.fits,
            "batches": p.plan.batches,
            "hourly_usd": f"{p.plan.hourly_usd:.2f}",
            "message": p.plan.message,
            "requires_approval": env_requires_approval,
            "ready": p.ready,
            "failing": p.failing,
            "would_be_refused": (not p.plan.fits) or (env_requires_approval and not p.ready),
            "previous": p.previous.pk if p.previous is not None else None,
            "instance": {
                "name": p.instance.name, "gpus": p.instance.gpus, "gpu_model": p.instance.gpu_model,
                "on_demand_usd_hour": f"{p.instance.on_demand_usd_hour:.4f}",
                "spot_usd_hour": f"{p.instance.spot_usd_hour:.4f}",
                "price_date": p.instance.price_date.isoformat(),
            },
        }
