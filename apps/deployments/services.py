"""Deployment writes: requests, approvals, rollout controls and every state transition.

Every transition goes through `transition()`: inside a transaction, with the row locked,
compare-and-set on the old status, an event row and an audit event (SPEC §2, STYLE §3).
Cluster work never happens here: the reconciler (worker/engine) converges the cluster to
what these functions record, and they enqueue it on commit so controls act within a tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from apps.core import audit
from apps.core.access import require, require_platform
from apps.core.errors import (
    ConcurrentTransition,
    Conflict,
    InvalidTransition,
    NotFound,
    NotPermitted,
    QuotaExceeded,
    ValidationFailed,
)
from apps.deployments import config as config_rules
from apps.deployments.choices import (
    ACTIVE,
    RESERVING,
    TRANSITIONS,
    ApprovalDecision,
    DeploymentStatus,
    Phase,
    Strategy,
)
from apps.deployments.errors import DeploymentErrorCode
from apps.deployments.models import Approval, Deployment, Environment, InstanceType, Rollout, RolloutEvent
from apps.drift.services import check_rollout_allowed as check_drift_acknowledged
from apps.registry.models import Model, ModelVersion
from apps.tenancy.models import Tenant

S = DeploymentStatus
MAX_COMMENT = 5000


# --- reading -------------------------------------------------------------------------------

def live_deployment(model: Model, environment: Environment | str) -> Deployment | None:
    qs = Deployment.objects.filter(model=model, status=S.LIVE).select_related("version", "environment")
    if isinstance(environment, Environment):
        qs = qs.filter(environment=environment)
    else:
        qs = qs.filter(environment__name=environment)
    return qs.order_by("-live_since", "-id").first()


def live_version(model: Model, environment: Environment | str) -> ModelVersion | None:
    found = live_deployment(model, environment)
    return found.version if found else None


def gpus_in_use(tenant_id: int, *, exclude_id: int | None = None) -> int:
    """GPUs reserved by the team's queued, progressing, paused and live deployments."""
    qs = Deployment.objects.filter(tenant_id=tenant_id, status__in=RESERVING)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return int(qs.aggregate(total=Sum("reserved_gpus"))["total"] or 0)


def get_environment(name_or_obj) -> Environment:
    if isinstance(name_or_obj, Environment):
        return name_or_obj
    env = Environment.objects.filter(name=str(name_or_obj)[:40]).first()
    if env is None:
        names = ", ".join(Environment.objects.values_list("name", flat=True))
        raise ValidationFailed([("environment", DeploymentErrorCode.UNKNOWN_ENVIRONMENT,
                                 f"Unknown environment '{str(name_or_obj)[:40]}'. Known: {names}.")])
    return env


# --- capacity ------------------------------------------------------------------------------

@dataclass(frozen=True)
class GpuPlan:
    """What a deployment needs at its peak against the team's quota (shown before deploying)."""

    quota: int
    in_use: int
    headroom: int
    peak_gpus: int           # extra GPUs the plan needs at its peak, on top of `in_use`
    reserved_gpus: int       # GPUs the deployment holds once live
    fits: bool
    strategy: str
    hourly_usd: Decimal
    batches: list[list[int]] = field(default_factory=list)  # rolling: [new, old, weight]
    message: str = ""


def plan_capacity(*, tenant, config: dict, instance: InstanceType, previous: Deployment | None,
                  exclude_id: int | None = None) -> GpuPlan:
    """Peak GPUs for `config` and, for `strategy: rolling`, batches that fit the headroom."""
    gpr = config["gpus_per_replica"]
    replicas = config["min_replicas"]
    in_use = gpus_in_use(tenant.pk, exclude_id=exclude_id)
    headroom = max(0, tenant.gpu_quota - in_use)
    reserved = gpr * replicas
    hourly = (instance.hourly_usd(config["spot_percent"]) * replicas).quantize(Decimal("0.01"))
    if config["strategy"] == Strategy.CANARY or gpr == 0 or previous is None:
        fits = reserved <= headroom
        message = (f"Needs {reserved} GPU(s) at peak; the team uses {in_use} of {tenant.gpu_quota}, "
                   f"{headroom} free.")
        return GpuPlan(tenant.gpu_quota, in_use, headroom, reserved, reserved, fits, config["strategy"], hourly,
                       [], message)
    # Rolling: bring up `batch` new replicas, then retire as many old ones, behind the same gates.
    batch = min(replicas, headroom // gpr)
    old_total = previous.config.get("min_replicas", 1)
    batches: list[list[int]] = []
    if batch >= 1:
        new = 0
        while new < replicas:
            new = min(replicas, new + batch)
            old = max(0, old_total - new) if new < replicas else 0
            weight = 100 if old == 0 else max(1, min(99, round(100 * new / (new + old))))
            if batches and weight <= batches[-1][2] and weight < 100:
                weight = batches[-1][2] + 1
            batches.append([new, old, weight])
    peak = batch * gpr
    fits = batch >= 1
    message = (f"Rolling in {len(batches)} batch(es) of {batch} replica(s) ({peak} GPU(s) at peak); the team uses "
               f"{in_use} of {tenant.gpu_quota}, {headroom} free." if fits else
               f"Rolling needs at least {gpr} free GPU(s) for one replica; the team uses {in_use} of "
               f"{tenant.gpu_quota}, {headroom} free.")
    return GpuPlan(tenant.gpu_quota, in_use, headroom, peak, reserved, fits, Strategy.ROLLING, hourly, batches,
                   message)


@dataclass(frozen=True)
class Preview:
    config: dict
    plan: GpuPlan
    instance: InstanceType
    previous: Deployment | None
    ready: bool
    failing: list[str]


def preview(version: ModelVersion, *, environment, config, actor) -> Preview:
    """Validate a deployment request without writing: config, capacity, readiness."""
    from apps.readiness.services import readiness

    require(actor, "view", version.model.tenant_id, what="version")
    environment = get_environment(environment)
    catalog = {i.name: i for i in InstanceType.objects.filter(available=True)}
    normalized = config_rules.normalize(config, environment=environment, model=version.model, version=version,
                                        instance_types=catalog)
    previous = live_deployment(version.model, environment)
    plan = plan_capacity(tenant=version.model.tenant, config=normalized, instance=catalog[normalized["instance_type"]],
                         previous=previous)
    summary = readiness(version)
    return Preview(normalized, plan, catalog[normalized["instance_type"]], previous, summary.ready, summary.failing)


# --- requests ------------------------------------------------------------------------------

def _quota_exceeded(plan: GpuPlan, strategy: str) -> QuotaExceeded:
    return QuotaExceeded(plan.message + (" Try `strategy: rolling`, fewer replicas, or ask for a larger quota."
                                         if strategy == Strategy.CANARY else ""),
                         code=DeploymentErrorCode.QUOTA, field="config.min_replicas",
                         extra={"gpu": {"quota": plan.quota, "in_use": plan.in_use, "headroom": plan.headroom,
                                        "needed": plan.peak_gpus}})


def request_deployment(version: ModelVersion, *, environment, config, actor) -> Deployment:
    """Create a deployment: staging is queued at once; production waits for approval.

    Refused (nothing written) when the config is invalid, the plan does not fit the GPU
    quota (naming the numbers), the version is not ready for an environment that needs
    approval, or another deployment of the model is already running there.
    """
    require(actor, "change", version.model.tenant_id, what="version")
    environment = get_environment(environment)
    pre = preview(version, environment=environment, config=config, actor=actor)
    if environment.requires_approval and not pre.ready:
        raise ValidationFailed([("version", DeploymentErrorCode.NOT_READY,
                                 f"v{version.version} is not ready for {environment.name}: failing "
                                 + ", ".join(pre.failing) + ".")])
    check_drift_acknowledged(version, environment)  # drift (issue 5): a drifting version waits for a person
    if not pre.plan.fits:
        raise _quota_exceeded(pre.plan, pre.config["strategy"])
    status = S.PENDING_APPROVAL if environment.requires_approval else S.QUEUED
    with transaction.atomic():
        # Serialise a team's requests on its tenant row: the quota and the one-active-rollout
        # checks read rows that may not exist yet, and no row lock covers a row not yet written
        # (two concurrent requests both passed them before).
        tenant = Tenant.objects.select_for_update().get(pk=version.model.tenant_id)
        busy = Deployment.objects.filter(model=version.model, environment=environment, status__in=ACTIVE).first()
        if busy is not None:
            raise Conflict(f"Deployment #{busy.pk} of {version.model.name} is {busy.status} in {environment.name}; "
                           "wait for it to finish or abort it.", code=DeploymentErrorCode.ALREADY_ACTIVE)
        plan = plan_capacity(tenant=tenant, config=pre.config, instance=pre.instance, previous=pre.previous)
        if not plan.fits:
            raise _quota_exceeded(plan, pre.config["strategy"])
        pre = Preview(pre.config, plan, pre.instance, pre.previous, pre.ready, pre.failing)
        strategy = Strategy.ROLLING if pre.plan.strategy == Strategy.ROLLING else pre.config["strategy"]
        deployment = Deployment.objects.create(
            tenant_id=version.model.tenant_id, model=version.model, version=version, environment=environment,
            status=status, strategy=strategy, config=pre.config, config_hash=config_rules.config_hash(pre.config),
            peak_gpus=pre.plan.peak_gpus, reserved_gpus=pre.plan.reserved_gpus, requested_by=actor,
        )
        steps = [b[2] for b in pre.plan.batches] if strategy == Strategy.ROLLING else pre.config["steps"]
        Rollout.objects.create(deployment=deployment, steps=steps, step_soak_seconds=pre.config["soak_seconds"],
                               batches=pre.plan.batches, cluster_synced=False)
        _event(deployment, actor, "transition", "", status,
               f"{actor} requested v{version.version} in {environment.name} ({strategy}, "
               f"{pre.config['min_replicas']}× {pre.config['instance_type']}).")
        audit.record("deployment.requested", actor=actor, tenant=deployment.tenant_id, obj=deployment,
                     after={"status": status, "version": version.version, "environment": environment.name,
                            "config": pre.config, "config_hash": deployment.config_hash})
        if status == S.QUEUED:
            _reconcile_on_commit(deployment)
        _notify_on_commit(deployment, "approval_needed" if status == S.PENDING_APPROVAL else "queued")
    return deployment


# --- transitions ---------------------------------------------------------------------------

def _event(deployment: Deployment, actor, kind: str, from_status: str, to_status: str, message: str,
           **fields) -> RolloutEvent:
    label = actor.get_username() if actor is not None and getattr(actor, "is_authenticated", False) else "worker"
    return RolloutEvent.objects.create(
        deployment=deployment, actor=actor if label != "worker" else None, actor_label=label, kind=kind,
        from_status=from_status, to_status=to_status, message=message[:2000], **fields)


def transition(deployment: Deployment, to: str, *, actor, reason: str, expect: set[str] | None = None,
               audit_event: bool = True, audit_extra: dict | None = None, **fields) -> Deployment:
    """Move `deployment` to status `to`, refusing moves not in TRANSITIONS.

    Must run inside a transaction. Compare-and-set on the status read: a concurrent
    change makes this raise ConcurrentTransition instead of overwriting it. Writes the
    audit event unless the caller writes the one event of its operation itself
    (`audit_event=False`: one user action, one audit event).
    """
    current = deployment.status
    if expect is not None and current not in expect:
        raise InvalidTransition(f"Deployment #{deployment.pk} is {current}; this needs "
                                + " or ".join(sorted(expect)) + ".", field="status")
    if to not in TRANSITIONS.get(current, set()):
        raise InvalidTransition(f"Deployment #{deployment.pk} cannot go from {current} to {to}.", field="status")
    now = timezone.now()
    updates = {"status": to, "status_reason": reason[:2000], "updated_at": now, **fields}
    if to in (S.LIVE,):
        updates.setdefault("live_since", now)
    if to in (S.REJECTED, S.EXPIRED, S.ROLLED_BACK, S.FAILED, S.SUPERSEDED):
        updates.setdefault("finished_at", now)
    changed = Deployment.objects.filter(pk=deployment.pk, status=current).update(**updates)
    if not changed:
        raise ConcurrentTransition(f"Deployment #{deployment.pk} changed while you acted; reload and try again.")
    for key, value in updates.items():
        setattr(deployment, key, value)
    _event(deployment, actor, "transition", current, to, reason or f"{current} → {to}")
    if audit_event:
        audit.record(f"deployment.{to}", actor=actor, tenant=deployment.tenant_id, obj=deployment,
                     before={"status": current}, after={"status": to, "reason": reason, **(audit_extra or {})})
    return deployment


def _locked(deployment: Deployment) -> Deployment:
    return (Deployment.objects.select_for_update(of=("self",))
            .select_related("version", "environment", "model", "tenant").get(pk=deployment.pk))


def _bump(rollout_id: int, **fields) -> None:
    """Change a rollout outside the reconciler; bumping generation voids its in-flight tick."""
    from django.db.models import F

    Rollout.objects.filter(pk=rollout_id).update(generation=F("generation") + 1, updated_at=timezone.now(),
                                                 next_reconcile_at=None, **fields)


def _reconcile_on_commit(deployment: Deployment) -> None:
    def enqueue():
        from worker.tasks import reconcile_rollout

        rollout_id = Rollout.objects.filter(deployment_id=deployment.pk).values_list("pk", flat=True).first()
        if rollout_id:
            reconcile_rollout.delay(rollout_id)

    transaction.on_commit(enqueue)


def _notify_on_commit(deployment: Deployment, event: str) -> None:
    """Hook for notifications (webhooks land with the notifications capability)."""
    from django.apps import apps

    if apps.is_installed("apps.notifications"):
        from apps.notifications.services import notify_deployment  # type: ignore[import-not-found]

        transaction.on_commit(lambda: notify_deployment(deployment.pk, event))


def _clean_text(value, name: str, *, required: bool, message: str) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed([(name, "invalid", f"{name} must be text.")])
    value = value.strip()
    if "\x00" in value:
        raise ValidationFailed([(name, "null_characters", "NUL characters are not allowed.")])
    if len(value) > MAX_COMMENT:
        raise ValidationFailed([(name, "max_length", f"At most {MAX_COMMENT} characters.")])
    if required and not value:
        raise ValidationFailed([(name, DeploymentErrorCode.COMMENT_REQUIRED, message)])
    return value


def approve(deployment: Deployment, *, actor, comment: str = "") -> Approval:
    """A platform engineer who is not the requester approves a production request.

    The approval binds to the version's artifact digest and the config hash and expires
    after the environment's TTL unless the rollout has started.
    """
    from apps.readiness.services import readiness

    require(actor, "view", deployment.tenant_id, what="deployment")
    require_platform(actor, doing="approve production deployments")
    comment = _clean_text(comment, "comment", required=False, message="")
    with transaction.atomic():
        locked = _locked(deployment)
        if locked.requested_by_id == actor.pk:
            raise NotPermitted("You requested this deployment; another platform engineer must approve it.",
                               code=DeploymentErrorCode.SELF_APPROVAL)
        if locked.status != S.PENDING_APPROVAL:
            raise InvalidTransition(f"Deployment #{locked.pk} is {locked.status}, not pending approval.",
                                    field="status")
        summary = readiness(locked.version)
        if not summary.ready:
            raise Conflict(f"v{locked.version.version} is no longer ready: failing {', '.join(summary.failing)}.",
                           code=DeploymentErrorCode.NOT_READY)
        # The team's lock (as in request_deployment) makes the checks below race-free.
        tenant = Tenant.objects.select_for_update().get(pk=locked.tenant_id)
        active = Deployment.objects.filter(model=locked.model, environment=locked.environment,
                                           status__in=ACTIVE).exclude(pk=locked.pk).first()
        if active is not None:
            raise Conflict(f"Deployment #{active.pk} of {locked.model.name} is {active.status} in "
                           f"{locked.environment.name}; approve this one when it has finished.",
                           code=DeploymentErrorCode.ALREADY_ACTIVE)
        # A pending request holds no GPUs; approving makes it hold them, so the quota is checked
        # again now (others may have deployed since the request).
        in_use = gpus_in_use(tenant.pk, exclude_id=locked.pk)
        headroom = max(0, tenant.gpu_quota - in_use)
        if locked.peak_gpus > headroom:
            raise QuotaExceeded(
                f"Needs {locked.peak_gpus} GPU(s) at peak; the team now uses {in_use} of {tenant.gpu_quota}, "
                f"{headroom} free. Free some GPUs or raise the quota, then approve.",
                code=DeploymentErrorCode.QUOTA, field="config.min_replicas",
                extra={"gpu": {"quota": tenant.gpu_quota, "in_use": in_use, "headroom": headroom,
                               "needed": locked.peak_gpus}})
        approval = Approval.objects.create(
            deployment=locked, decision=ApprovalDecision.APPROVED, decided_by=actor, comment=comment,
            artifact_digest=locked.version.artifact_digest, config_hash=locked.config_hash,
            expires_at=timezone.now() + timedelta(hours=locked.environment.approval_ttl_hours))
        transition(locked, S.QUEUED, actor=actor, reason=f"Approved by {actor}" + (f": {comment}" if comment else "."),
                   audit_event=False)
        audit.record("approval.approved", actor=actor, tenant=locked.tenant_id, obj=approval,
                     object_repr=f"approval of #{locked.pk}", before={"status": S.PENDING_APPROVAL},
                     after={"status": S.QUEUED, "deployment": locked.pk,
                            "artifact_digest": approval.artifact_digest, "config_hash": approval.config_hash,
                            "expires_at": approval.expires_at, "comment": comment})
        _reconcile_on_commit(locked)
        _notify_on_commit(locked, "approved")
    return approval


def reject(deployment: Deployment, *, actor, comment: str) -> Approval:
    """A platform engineer (not the requester) rejects a production request; comment required."""
    require(actor, "view", deployment.tenant_id, what="deployment")
    require_platform(actor, doing="reject production deployments")
    comment = _clean_text(comment, "comment", required=True, message="Say why the request is rejected.")
    with transaction.atomic():
        locked = _locked(deployment)
        if locked.requested_by_id == actor.pk:
            raise NotPermitted("You requested this deployment; another platform engineer must decide on it.",
                               code=DeploymentErrorCode.SELF_APPROVAL)
        if locked.status != S.PENDING_APPROVAL:
            raise InvalidTransition(f"Deployment #{locked.pk} is {locked.status}, not pending approval.",
                                    field="status")
        approval = Approval.objects.create(
            deployment=locked, decision=ApprovalDecision.REJECTED, decided_by=actor, comment=comment,
            artifact_digest=locked.version.artifact_digest, config_hash=locked.config_hash)
        transition(locked, S.REJECTED, actor=actor, reason=f"Rejected by {actor}: {comment}", audit_event=False)
        audit.record("approval.rejected", actor=actor, tenant=locked.tenant_id, obj=approval,
                     object_repr=f"rejection of #{locked.pk}", before={"status": S.PENDING_APPROVAL},
                     after={"status": S.REJECTED, "deployment": locked.pk, "comment": comment})
        _notify_on_commit(locked, "rejected")
    return approval


def expire_approvals(*, now=None) -> int:
    """Pending requests and approved-but-unstarted deployments past their TTL expire."""
    now = now or timezone.now()
    expired = 0
    candidates = Deployment.objects.filter(status__in=[S.PENDING_APPROVAL, S.QUEUED],
                                           environment__requires_approval=True).select_related("environment")
    for deployment in candidates:
        if deployment.status == S.PENDING_APPROVAL:
            stale = deployment.created_at + timedelta(hours=deployment.environment.approval_ttl_hours) <= now
        else:
            approval = deployment.approvals.filter(decision=ApprovalDecision.APPROVED).first()
            stale = approval is None or (approval.used_at is None and approval.expires_at is not None
                                         and approval.expires_at <= now)
        if not stale:
            continue
        with transaction.atomic():
            locked = _locked(deployment)
            if locked.status not in (S.PENDING_APPROVAL, S.QUEUED):
                continue
            if locked.status == S.QUEUED and locked.started_at is not None:
                continue
            transition(locked, S.EXPIRED, actor=None,
                       reason=f"The approval window of {locked.environment.approval_ttl_hours} h passed before the "
                              "rollout started; request again.")
            _notify_on_commit(locked, "expired")
            expired += 1
    return expired


# --- rollout controls ----------------------------------------------------------------------

def pause(deployment: Deployment, *, actor, reason: str = "") -> Deployment:
    """Platform engineers hold a progressing rollout where it is (gates keep guarding it)."""
    require(actor, "view", deployment.tenant_id, what="deployment")
    require_platform(actor, doing="pause rollouts")
    reason = _clean_text(reason, "reason", required=False, message="")
    with transaction.atomic():
        locked = _locked(deployment)
        transition(locked, S.PAUSED, actor=actor, reason=f"Paused by {actor}" + (f": {reason}" if reason else "."),
                   expect={S.PROGRESSING})
        _bump(locked.rollout.pk)
    return locked


def resume(deployment: Deployment, *, actor, reason: str = "") -> Deployment:
    """Continue a paused rollout; the current step's soak starts again, counters reset."""
    require(actor, "view", deployment.tenant_id, what="deployment")
    require_platform(actor, doing="resume rollouts")
    reason = _clean_text(reason, "reason", required=False, message="")
    with transaction.atomic():
        locked = _locked(deployment)
        transition(locked, S.PROGRESSING, actor=actor,
                   reason=f"Resumed by {actor}" + (f": {reason}" if reason else "."), expect={S.PAUSED})
        _bump(locked.rollout.pk, inconclusive_count=0, step_started_at=timezone.now())
        _reconcile_on_commit(locked)
    return locked


def promote(deployment: Deployment, *, actor, reason: str = "") -> Deployment:
    """Skip the current step's wait: the next tick advances one step (or ends the guard)."""
    require(actor, "view", deployment.tenant_id, what="deployment")
    require_platform(actor, doing="promote rollouts")
    reason = _clean_text(reason, "reason", required=False, message="")
    with transaction.atomic():
        locked = _locked(deployment)
        if locked.status not in (S.PROGRESSING, S.PAUSED):
            raise InvalidTransition(f"Deployment #{locked.pk} is {locked.status}; only a progressing or paused "
                                    "rollout can be promoted.", field="status")
        if locked.status == S.PAUSED:
            transition(locked, S.PROGRESSING, actor=actor, reason=f"Resumed by promotion from {actor}.")
        elif locked.rollout.promote_requested:
            raise InvalidTransition("A promotion is already waiting for the next tick.", field="status")
        _event(locked, actor, "note", locked.status, locked.status,
               f"Promoted by {actor}" + (f": {reason}" if reason else "."))
        audit.record("deployment.promoted", actor=actor, tenant=locked.tenant_id, obj=locked,
                     after={"reason": reason})
        _bump(locked.rollout.pk, promote_requested=True, inconclusive_count=0)
        _reconcile_on_commit(locked)
    return locked


def abort(deployment: Deployment, *, actor, reason: str = "") -> Deployment:
    """Stop a queued or running rollout: all traffic back to stable, the new version to zero."""
    require(actor, "change", deployment.tenant_id, what="deployment")
    reason = _clean_text(reason, "reason", required=False, message="")
    with transaction.atomic():
        locked = _locked(deployment)
        text = f"Aborted by {actor}" + (f": {reason}" if reason else ".")
        transition(locked, S.ROLLED_BACK, actor=actor, reason=text, expect=set(ACTIVE))
        _bump(locked.rollout.pk, phase=Phase.ROLLING_BACK, abort_requested=True, abort_reason=text,
              cluster_synced=False)
        _reconcile_on_commit(locked)
        _notify_on_commit(locked, "rolled_back")
    return locked


def rollback(deployment: Deployment, *, actor, reason: str = "") -> Deployment:
    """Roll back: a running rollout is aborted; a live one hands back to the previous live version."""
    require(actor, "change", deployment.tenant_id, what="deployment")
    if deployment.status in ACTIVE:
        return abort(deployment, actor=actor, reason=reason)
    reason = _clean_text(reason, "reason", required=False, message="")
    with transaction.atomic():
        locked = _locked(deployment)
        if locked.status != S.LIVE:
            raise InvalidTransition(f"Deployment #{locked.pk} is {locked.status}; only a live or running "
                                    "deployment can be rolled back.", field="status")
        previous = (Deployment.objects.select_for_update().filter(pk=locked.previous_id, status=S.SUPERSEDED).first()
                    if locked.previous_id else None)
        if previous is None:
            raise Conflict(f"{locked.model.name} has no earlier live version in {locked.environment.name} to "
                           "restore.", code=DeploymentErrorCode.NO_PREVIOUS)
        text = (f"Rolled back by {actor}" if actor is not None else "Rolled back automatically") + \
            (f": {reason}" if reason else ".")
        # One audit event for the rollback; it names the deployment made live again.
        transition(locked, S.ROLLED_BACK, actor=actor, reason=text, audit_extra={"restored": previous.pk})
        transition(previous, S.LIVE, actor=actor, reason=f"Restored by the rollback of #{locked.pk}.",
                   finished_at=None, live_since=timezone.now(), audit_event=False)
        _bump(locked.rollout.pk, phase=Phase.RESTORING, abort_reason=text, cluster_synced=False)
        _reconcile_on_commit(locked)
        _notify_on_commit(locked, "rolled_back")
    return locked


def get_visible(user, pk) -> Deployment:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("No such deployment.") from None
    found = Deployment.objects.for_user(user, "view").filter(pk=pk).first()
    if found is None:
        raise NotFound("No such deployment.")
    return found
