"""The rollout reconciler: one level-triggered, idempotent tick per rollout (STYLE §4).

`reconcile(rollout_id)`:
1. takes a lease on the rollout row (a conditional UPDATE; another worker holding a live
   lease makes this tick a no-op) — no row lock is ever held across a cluster call;
2. reads the desired state (database) and the actual state (cluster, metrics);
3. makes at most one step of progress, writing the cluster declaratively first;
4. records the progress with compare-and-set on `Rollout.generation` (a user action or a
   concurrent tick in between voids this one: its records are discarded, the next tick
   re-reads and converges) and releases the lease.

Every cluster write is declarative (apply the whole desired object), so repeating a tick
repeats no side effect wrongly; route weights always come from one RouteSpec that sums to
100. Decisions are persisted before their cluster effects where a crash in between could
lose them (rollback): the cluster is then converged from the database, tick after tick.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.deployments import services
from apps.deployments.choices import ACTIVE, DeploymentStatus, Phase, Strategy, Verdict
from apps.deployments.models import Analysis, Deployment, Environment, InstanceType, Rollout
from worker.engine.plan import Decision, Gates, analyse, rollback_check
from worker.metrics import MetricsUnavailable, WindowStats, get_provider

log = logging.getLogger(__name__)
S = DeploymentStatus
TRANSIENT_STATUSES = {None, 0, 408, 409, 429, 500, 502, 503, 504}


class Stale(Exception):
    """The rollout changed since this tick read it; its records are discarded."""


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


_clusters: dict[str, object] = {}


def cluster_for(environment: Environment):
    """One adapter per cluster configuration per process (connection reuse, token refresh)."""
    import json

    from worker.cluster import get_cluster

    config = {**(environment.cluster or {}),
              "gateway": {"name": environment.gateway_name, "namespace": environment.gateway_namespace}}
    key = json.dumps([environment.name, config], sort_keys=True)
    if key not in _clusters:
        _clusters[key] = get_cluster(config, environment=environment.name)
    return _clusters[key]


@dataclass
class Engine:
    """Everything a tick depends on from outside, injectable for tests."""

    clock: Callable[[], datetime] = timezone.now
    cluster_factory: Callable[[Environment], object] = cluster_for
    metrics_factory: Callable[[Environment], object] = get_provider
    owner: str = field(default_factory=_default_owner)
    lease_seconds: int = field(default_factory=lambda: getattr(settings, "SLIPWAY_LEASE_SECONDS", 60))
    ready_timeout_seconds: int = field(default_factory=lambda: getattr(settings, "SLIPWAY_READY_TIMEOUT_SECONDS", 600))
    max_consecutive_errors: int = field(
        default_factory=lambda: getattr(settings, "SLIPWAY_MAX_CONSECUTIVE_ERRORS", 30))
    set_alias: Callable[[str, str, int], None] | None = None


# --- claiming -----------------------------------------------------------------------------

def due_rollout_ids(*, now: datetime, limit: int = 5000) -> list[int]:
    """Rollouts the beat should enqueue: running ones, and finished ones whose cluster has not
    converged yet (a rollback in progress), not leased by a live worker, and due."""
    needs_work = Q(deployment__status__in=ACTIVE) | (
        Q(cluster_synced=False) & Q(deployment__status__in=[S.ROLLED_BACK, S.FAILED, S.LIVE]))
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    due = Q(next_reconcile_at__isnull=True) | Q(next_reconcile_at__lte=now)
    return list(Rollout.objects.filter(needs_work & free & due).order_by("pk").values_list("pk", flat=True)[:limit])


def enqueue_due(*, now: datetime, send: Callable[[int], object]) -> int:
    """Beat: `send` (enqueue) one reconcile per due rollout that has none waiting in the queue.

    Each rollout sent is marked not due (`next_reconcile_at`) until a worker claims it — the claim
    clears the mark — or for one lease length, after which its message is presumed lost (a killed
    worker, a restarted broker) and another is sent. Enqueuing every rollout every tick regardless
    grew the queue without bound whenever the workers fell behind or were down, and a restarted
    worker then worked through stale duplicates before any rollout moved (tests/chaos).
    """
    ids = due_rollout_ids(now=now)
    lease = int(getattr(settings, "SLIPWAY_LEASE_SECONDS", 60))
    Rollout.objects.filter(pk__in=ids).update(next_reconcile_at=now + timedelta(seconds=lease))
    for sent, rollout_id in enumerate(ids):
        try:
            send(rollout_id)
        except Exception:
            # The broker is down: these were not enqueued, so they are due again at the next beat.
            Rollout.objects.filter(pk__in=ids[sent:]).update(next_reconcile_at=None)
            raise
    return len(ids)


def _claim(rollout_id: int, engine: Engine, now: datetime) -> bool:
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=engine.owner)
    # Claiming consumes the rollout's queued reconcile: beat may enqueue the next one (enqueue_due).
    return bool(Rollout.objects.filter(free, pk=rollout_id).update(
        lease_owner=engine.owner, lease_until=now + timedelta(seconds=engine.lease_seconds), next_reconcile_at=None))


def _release(rollout_id: int, engine: Engine) -> None:
    Rollout.objects.filter(pk=rollout_id, lease_owner=engine.owner).update(lease_owner="", lease_until=None)


# --- the tick -----------------------------------------------------------------------------

def reconcile(rollout_id: int, engine: Engine | None = None) -> str:
    """One tick for one rollout. Returns a short word saying what happened (for logs/tests)."""
    engine = engine or Engine()
    now = engine.clock()
    if not _claim(rollout_id, engine, now):
        return "busy"
    try:
        rollout = (Rollout.objects.select_related(
            "deployment__version", "deployment__model", "deployment__environment", "deployment__tenant",
            "deployment__previous__version", "deployment__previous__model").filter(pk=rollout_id).first())
        if rollout is None:
            return "gone"
        tick = Tick(rollout, engine, now)
        try:
            return tick.run()
        except Stale:
            return "stale"
        except Exception as exc:  # recorded on the rollout; the next tick retries or fails it
            return tick.handle_error(exc)
    finally:
        _release(rollout_id, engine)


class Tick:
    def __init__(self, rollout: Rollout, engine: Engine, now: datetime):
        self.r = rollout
        self.d: Deployment = rollout.deployment
        self.engine = engine
        self.now = now
        self.env: Environment = self.d.environment
        self._cluster = None
        self._metrics = None

    # -- plumbing --
    @property
    def cluster(self):
        if self._cluster is None:
            self._cluster = self.engine.cluster_factory(self.env)
        return self._cluster

    @property
    def metrics(self):
        if self._metrics is None:
            self._metrics = self.engine.metrics_factory(self.env)
        return self._metrics

    @property
    def previous(self) -> Deployment | None:
        return self.d.previous

    def commit(self, *, status: str | None = None, reason: str = "", event: str = "", analysis: dict | None = None,
               event_kind: str = "step", previous_status: str | None = None, deployment_fields: dict | None = None,
               **fields) -> None:
        """Record this tick's progress atomically, compare-and-set on the generation."""
        with transaction.atomic():
            changed = Rollout.objects.filter(pk=self.r.pk, generation=self.r.generation).update(
                generation=F("generation") + 1, last_reconciled_at=self.now, updated_at=timezone.now(),
                consecutive_errors=0, last_error="", **fields)
            if not changed:
                raise Stale()
            for key, value in fields.items():
                setattr(self.r, key, value)
            self.r.generation += 1
            if analysis is not None:
                Analysis.objects.create(rollout=self.r, created_at=self.now, **analysis)
            if deployment_fields and status is None:
                Deployment.objects.filter(pk=self.d.pk).update(**deployment_fields)
                for key, value in deployment_fields.items():
                    setattr(self.d, key, value)
            if status is not None:
                try:
                    # Timestamps come from the engine's clock (one clock for the whole tick).
                    services.transition(self.d, status, actor=None, reason=reason, **(deployment_fields or {}))
                except services.ConcurrentTransition:
                    raise Stale() from None
                if status in (S.PAUSED, S.LIVE, S.ROLLED_BACK, S.FAILED):
                    services._notify_on_commit(self.d, status)
            if previous_status is not None and self.previous is not None:
                services.transition(self.previous, previous_status, actor=None,
                                    reason=f"Replaced by #{self.d.pk} (v{self.d.version.version}).")
            if event:
                services._event(self.d, None, event_kind, self.d.status, self.d.status, event,
                                step_index=self.r.step_index, canary_weight=self.r.canary_weight)

    def handle_error(self, exc: Exception) -> str:
        status = getattr(exc, "status", None)
        transient = isinstance(exc, (MetricsUnavailable, ConnectionError, TimeoutError)) or \
            status in TRANSIENT_STATUSES or exc.__class__.__name__ in ("MlflowUnavailable",)
        message = f"{type(exc).__name__}: {str(exc)[:500]}"
        log.warning("reconcile of rollout %s: %s", self.r.pk, message)
        errors = self.r.consecutive_errors + 1
        if self.d.status in ACTIVE and (not transient or errors >= self.engine.max_consecutive_errors):
            try:
                self.fail(f"Unrecoverable error after {errors} attempt(s): {message}")
                return "failed"
            except Stale:
                return "stale"
            except Exception:  # the failure itself could not be recorded; try again next tick
                log.exception("could not record the failure of rollout %s", self.r.pk)
        with transaction.atomic():
            first = self.r.last_error != message
            Rollout.objects.filter(pk=self.r.pk).update(last_error=message, consecutive_errors=F("consecutive_errors") + 1,
                                                        last_reconciled_at=self.now)
            if first:
                services._event(self.d, None, "error", self.d.status, self.d.status,
                                f"{message} (will retry)", step_index=self.r.step_index)
        return "error"

    # -- cluster specs --
    def _instance(self, deployment: Deployment) -> InstanceType | None:
        return InstanceType.objects.filter(name=deployment.config.get("instance_type")).first()

    def spec(self, deployment: Deployment, replicas: int):
        from worker.cluster.spec import WorkloadSpec, workload_name

        cfg = deployment.config
        instance = self._instance(deployment)
        gpus = int(cfg.get("gpus_per_replica", 0))
        share = (gpus / instance.gpus) if instance is not None and instance.gpus else 1.0
        vcpus = instance.vcpus if instance is not None else 2
        memory = float(instance.memory_gib) if instance is not None else 8.0
        autoscaling = cfg.get("autoscaling") or {}
        return WorkloadSpec(
            tenant=deployment.tenant.slug, namespace=self.namespace, model=deployment.model.name,
            version=deployment.version.version, deployment_id=deployment.pk,
            name=workload_name(deployment.model.name, deployment.version.version), image=cfg["image"],
            model_uri=deployment.version.artifact_uri, replicas=replicas, min_replicas=cfg["min_replicas"],
            max_replicas=cfg["max_replicas"], gpus_per_replica=gpus, instance_type=cfg["instance_type"],
            gpu_node=gpus > 0, spot_percent=int(cfg.get("spot_percent", 0)),
            cpu=str(max(1, int(vcpus * share) - 1)), memory=f"{max(1, int(memory * share * 0.8))}Gi",
            queue_depth_target=autoscaling.get("queue_depth"), gpu_util_target=autoscaling.get("gpu_utilization"),
            extra_labels={"slipway.io/environment": self.env.name},
        )

    @property
    def namespace(self) -> str:
        return self.env.namespace_for(self.d.tenant.slug)

    @property
    def canary_name(self) -> str:
        return self.d.workload

    @property
    def stable_name(self) -> str | None:
        return self.previous.workload if self.previous is not None else None

    def set_weights(self, canary_weight: int) -> None:
        from worker.cluster.spec import RouteSpec

        if self.previous is None:
            backends = ((self.canary_name, 100),)
        else:
            backends = ((self.stable_name, 100 - canary_weight), (self.canary_name, canary_weight))
        self.cluster.set_route(RouteSpec(namespace=self.namespace, tenant=self.d.tenant.slug, model=self.d.model.name,
                                         backends=backends))

    def ensure_replicas(self, deployment: Deployment, replicas: int):
        """Create the workload if missing, else scale it (apply only sets replicas at creation)."""
        status = self.cluster.workload_status(self.namespace, deployment.workload)
        if not status.exists:
            self.cluster.apply_workload(self.spec(deployment, replicas))
        elif status.desired != replicas:
            self.cluster.scale_workload(self.namespace, deployment.workload, replicas)
        return status

    def stable_min_replicas(self) -> int:
        return int(self.previous.config.get("min_replicas", 1)) if self.previous is not None else 0

    # -- metrics --
    def stats(self, workload: str | None, seconds: int) -> tuple[WindowStats | None, str]:
        if workload is None:
            return None, ""
        try:
            return self.metrics.window(namespace=self.namespace, workload=workload, seconds=max(1, int(seconds))), ""
        except MetricsUnavailable as exc:
            return None, str(exc)

    def gates(self) -> Gates:
        return Gates.for_deployment(self.d)

    def analysis_row(self, kind: str, decision: Decision, canary: WindowStats | None, stable: WindowStats | None,
                     window: int) -> dict:
        return {
            "kind": kind, "step_index": self.r.step_index, "canary_weight": self.r.canary_weight,
            "window_seconds": int(window), "verdict": decision.verdict, "gate": decision.gate,
            "reason": decision.reason,
            "canary_requests": canary.requests if canary else None, "canary_errors": canary.errors if canary else None,
            "canary_error_rate": canary.error_rate if canary else None, "canary_p99_ms": canary.p99_ms if canary else None,
            "stable_requests": stable.requests if stable else None,
            "stable_error_rate": stable.error_rate if stable else None, "stable_p99_ms": stable.p99_ms if stable else None,
        }

    # -- dispatch --
    def run(self) -> str:
        status, phase = self.d.status, self.r.phase
        if status == S.QUEUED:
            return self.start()
        if status in (S.ROLLED_BACK, S.FAILED) and not self.r.cluster_synced:
            return self.converge_rollback()
        if status == S.LIVE and not self.r.cluster_synced:
            return self.converge_live()
        if status == S.PAUSED:
            return self.watch_paused()
        if status != S.PROGRESSING:
            return "idle"
        handler = {
            Phase.PENDING: self.start_progressing, Phase.STARTING: self.create, Phase.WAITING_READY: self.wait_ready,
            Phase.STEP: self.step, Phase.SMOKE: self.smoke, Phase.GUARD: self.guard,
        }.get(phase)
        if handler is None:
            return "idle"
        return handler()

    # -- queued → progressing --
    def start(self) -> str:
        from apps.registry import mlflow_client

        if self.env.requires_approval:
            approval = self.d.approvals.filter(decision="approved").order_by("-created_at").first()
            if approval is None:
                self.commit(status=S.FAILED, reason="No approval found for this production deployment.",
                            cluster_synced=True)
                return "failed"
            if approval.expires_at is not None and approval.expires_at <= self.now and approval.used_at is None:
                self.commit(status=S.EXPIRED, cluster_synced=True,
                            reason=f"The approval expired at {approval.expires_at:%Y-%m-%d %H:%M} UTC before the "
                                   "rollout started; request again.")
                return "expired"
            if approval.config_hash != self.d.config_hash or \
                    approval.artifact_digest != self.d.version.artifact_digest:
                self.commit(status=S.FAILED, cluster_synced=True,
                            reason="The approval does not match this deployment's configuration or artifact; "
                                   "request again.")
                return "failed"
            current = mlflow_client.artifact_digest(self.d.model.mlflow_name, self.d.version.version)
            if current != approval.artifact_digest:
                self.commit(status=S.FAILED, cluster_synced=True,
                            reason=f"The artifact in MLflow changed since approval (approved {approval.artifact_digest[:19]}…, "
                                   f"now {current[:19]}…); import the new version and request approval again.")
                return "artifact_changed"
            approval.used_at = self.now
            type(approval).objects.filter(pk=approval.pk, used_at__isnull=True).update(used_at=self.now)
        previous = services.live_deployment(self.d.model, self.env)
        if previous is not None and previous.pk == self.d.pk:
            previous = None
        self.d.previous = previous
        first = self.r.batches[0][0] if self.d.strategy == Strategy.ROLLING and self.r.batches else \
            self.d.config["min_replicas"]
        self.commit(status=S.PROGRESSING, reason="Rollout started" + (
            f"; v{previous.version.version} is stable." if previous else "; first deployment in this environment."),
            phase=Phase.STARTING, step_index=-1, canary_weight=0, canary_replicas=first,
            stable_replicas=int(previous.config.get("min_replicas", 1)) if previous else 0,
            deployment_fields={"previous": previous, "started_at": self.now})
        return "started"

    def start_progressing(self) -> str:
        self.commit(phase=Phase.STARTING)
        return "starting"

    def create(self) -> str:
        from worker.cluster.spec import TenantSpec

        tenant = self.d.tenant
        self.cluster.ensure_tenant(TenantSpec(slug=tenant.slug, namespace=self.namespace, gpu_quota=tenant.gpu_quota))
        self.cluster.apply_workload(self.spec(self.d, self.r.canary_replicas))
        # The same version may exist from an earlier, rolled-back attempt, scaled to zero.
        self.ensure_replicas(self.d, self.r.canary_replicas)
        if self.previous is not None:
            self.set_weights(0)
        self.commit(phase=Phase.WAITING_READY, step_started_at=self.now,
                    event=f"Created {self.canary_name} with {self.r.canary_replicas} replica(s); waiting for pods.")
        return "created"

    def wait_ready(self) -> str:
        status = self.cluster.workload_status(self.namespace, self.canary_name)
        if not status.exists or status.desired != self.r.canary_replicas:
            self.ensure_replicas(self.d, self.r.canary_replicas)
            return "waiting"
        if status.ready < self.r.canary_replicas or not status.observed_generation_current:
            started = self.r.step_started_at or self.now
            if (self.now - started).total_seconds() > self.engine.ready_timeout_seconds:
                self.fail(f"Pods of {self.canary_name} not ready after {self.engine.ready_timeout_seconds} s "
                          f"({status.ready}/{self.r.canary_replicas} ready).")
                return "failed"
            return "waiting"
        if self.previous is None:
            self.set_weights(100)
            self.commit(phase=Phase.SMOKE, step_index=len(self.r.steps) - 1, canary_weight=100,
                        step_started_at=self.now, inconclusive_count=0,
                        event=f"{status.ready} pod(s) ready; 100 % of traffic to {self.canary_name} for the smoke "
                              "analysis.")
            return "smoke"
        index = self.r.step_index + 1
        weight = self.r.steps[index]
        extra = {}
        if self.d.strategy == Strategy.ROLLING and self.r.batches:
            old = self.r.batches[index][1]
            extra["stable_replicas"] = old
        self.set_weights(weight)
        if "stable_replicas" in extra:
            self.cluster.scale_workload(self.namespace, self.stable_name, extra["stable_replicas"])
        if weight >= 100:
            self.commit(phase=Phase.GUARD, step_index=index, canary_weight=100, step_started_at=self.now,
                        guard_until=self.now + timedelta(seconds=self.env.guard_window_seconds), inconclusive_count=0,
                        event_kind="traffic", event=f"Step {index + 1}/{len(self.r.steps)}: 100 % to "
                        f"{self.canary_name}; guard window of {self.env.guard_window_seconds} s begins.", **extra)
            return "guard"
        self.commit(phase=Phase.STEP, step_index=index, canary_weight=weight, step_started_at=self.now,
                    inconclusive_count=0, event_kind="traffic",
                    event=f"Step {index + 1}/{len(self.r.steps)}: {weight} % to {self.canary_name}, "
                          f"{100 - weight} % to {self.stable_name}.", **extra)
        return "stepped"

    # -- analysis phases --
    def _window(self) -> int:
        elapsed = (self.now - (self.r.step_started_at or self.now)).total_seconds()
        return int(max(10, min(elapsed, max(self.r.step_soak_seconds, 10))))

    def _recent_window(self) -> int:
        """The last tick's traffic (at least 10 s)."""
        return int(max(10, getattr(settings, "SLIPWAY_TICK_SECONDS", 10)))

    def _breach(self, kind: str) -> str | None:
        """The every-tick rollback gates. Records a sample analysis for the chart."""
        window = self._window()
        canary, canary_error = self.stats(self.canary_name, window)
        stable, _ = self.stats(self.stable_name, window) if self.r.canary_weight < 100 else (None, "")
        gates = self.gates()
        decision = rollback_check(canary, stable, gates, stable_p99_fallback=self.r.stable_p99_ms)
        if decision is not None:
            self.auto_rollback(decision, canary, stable, window, kind)
            return "rolled_back"
        recent = self._recent_window()
        if canary is not None and window > recent:
            # Over the whole step window a breach that began late is diluted by the step's older, healthy
            # traffic (7 % errors in the last 10 s of a 30 s window read 2.3 %): the last tick alone catches
            # it the tick it shows (benchmarks/reconcile.py). Advance-sized samples only, to keep noise out.
            fresh, _ = self.stats(self.canary_name, recent)
            strict = replace(gates, rollback_min_requests=max(gates.rollback_min_requests, gates.min_requests))
            decision = rollback_check(fresh, stable, strict, stable_p99_fallback=self.r.stable_p99_ms)
            if decision is not None:
                self.auto_rollback(decision, fresh, stable, recent, kind)
                return "rolled_back"
        self._sample = (canary, stable, window, canary_error)
        return None

    def auto_rollback(self, decision: Decision, canary, stable, window: int, kind: str) -> None:
        reason = f"Automatic rollback at step {self.r.step_index + 1} ({self.r.canary_weight} %): gate " \
                 f"{decision.gate} — {decision.reason}."
        self.commit(status=S.ROLLED_BACK, reason=reason, phase=Phase.ROLLING_BACK, cluster_synced=False,
                    abort_reason=reason, analysis=self.analysis_row(kind, decision, canary, stable, window))
        self._evaluate_checklist_on_commit()
        self.converge_rollback()

    def _record_sample(self, kind: str, **fields) -> None:
        canary, stable, window, error = self._sample
        if error:
            decision = Decision(Verdict.INCONCLUSIVE, "metrics", f"metrics provider unavailable: {error}")
        else:
            decision = Decision(Verdict.OK, "", "within the rollback gates")
        stable_p99 = stable.p99_ms if stable is not None and stable.p99_ms is not None else self.r.stable_p99_ms
        self.commit(analysis=self.analysis_row("continuous", decision, canary, stable, window),
                    stable_p99_ms=stable_p99, **fields)

    def step(self) -> str:
        if (outcome := self._breach("continuous")) is not None:
            return outcome
        if self.r.promote_requested:
            return self.advance(promoted=True)
        elapsed = (self.now - (self.r.step_started_at or self.now)).total_seconds()
        if elapsed < self.r.step_soak_seconds:
            self._record_sample("continuous")
            return "soaking"
        return self.step_analysis()

    def step_analysis(self) -> str:
        window = max(self.r.step_soak_seconds, 10)
        canary, error = self.stats(self.canary_name, window)
        stable, _ = self.stats(self.stable_name, window)
        decision = analyse(canary, stable, self.gates(), provider_error=error, stable_p99_fallback=self.r.stable_p99_ms)
        row = self.analysis_row("step", decision, canary, stable, window)
        if decision.verdict == Verdict.ROLLBACK:
            self.auto_rollback(decision, canary, stable, window, "step")
            return "rolled_back"
        if decision.verdict == Verdict.ADVANCE:
            if stable is not None and stable.p99_ms is not None:
                self.r.stable_p99_ms = stable.p99_ms
            return self.advance(analysis=row)
        return self.inconclusive(decision, row)

    def inconclusive(self, decision: Decision, row: dict) -> str:
        count = self.r.inconclusive_count + 1
        if count >= self.env.max_inconclusive:
            self.commit(status=S.PAUSED, inconclusive_count=count, analysis=row,
                        reason=f"Paused after {count} inconclusive analyses in a row; last: {decision.reason}. "
                               "Resume, promote or abort.")
            return "paused"
        self.commit(inconclusive_count=count, step_started_at=self.now, analysis=row,
                    event=f"Analysis {decision.verdict} ({count}/{self.env.max_inconclusive}): {decision.reason}; "
                          "the step's soak starts again.")
        return decision.verdict

    def advance(self, *, analysis: dict | None = None, promoted: bool = False) -> str:
        index = self.r.step_index + 1
        note = " (promoted)" if promoted else ""
        if index >= len(self.r.steps):
            return self.finalize(promoted=promoted)
        weight = self.r.steps[index]
        if self.d.strategy == Strategy.ROLLING and self.r.batches:
            new = self.r.batches[index][0]
            self.ensure_replicas(self.d, new)
            self.commit(phase=Phase.WAITING_READY, canary_replicas=new, step_started_at=self.now,
                        promote_requested=False, analysis=analysis, stable_p99_ms=self.r.stable_p99_ms,
                        event=f"Batch {index + 1}/{len(self.r.steps)}{note}: scaling {self.canary_name} to {new}.")
            return "scaling"
        self.set_weights(weight)
        common = dict(step_index=index, canary_weight=weight, step_started_at=self.now, inconclusive_count=0,
                      promote_requested=False, analysis=analysis, stable_p99_ms=self.r.stable_p99_ms,
                      event_kind="traffic")
        if weight >= 100:
            self.commit(phase=Phase.GUARD, guard_until=self.now + timedelta(seconds=self.env.guard_window_seconds),
                        event=f"Step {index + 1}/{len(self.r.steps)}{note}: 100 % to {self.canary_name}; guard "
                              f"window of {self.env.guard_window_seconds} s begins, {self.stable_name} stays warm.",
                        **common)
            return "guard"
        self.commit(phase=Phase.STEP, event=f"Step {index + 1}/{len(self.r.steps)}{note}: {weight} % to "
                    f"{self.canary_name}, {100 - weight} % to {self.stable_name}.", **common)
        return "stepped"

    def smoke(self) -> str:
        if (outcome := self._breach("smoke")) is not None:
            return outcome
        elapsed = (self.now - (self.r.step_started_at or self.now)).total_seconds()
        if not self.r.promote_requested and elapsed < self.env.smoke_seconds:
            self._record_sample("continuous")
            return "soaking"
        if self.r.promote_requested:
            return self.finalize(promoted=True)
        window = max(self.env.smoke_seconds, 10)
        canary, error = self.stats(self.canary_name, window)
        decision = analyse(canary, None, self.gates(), provider_error=error)
        row = self.analysis_row("smoke", decision, canary, None, window)
        if decision.verdict == Verdict.ROLLBACK:
            self.auto_rollback(decision, canary, None, window, "smoke")
            return "rolled_back"
        if decision.verdict == Verdict.ADVANCE:
            return self.finalize(analysis=row)
        return self.inconclusive(decision, row)

    def guard(self) -> str:
        if (outcome := self._breach("guard")) is not None:
            return outcome
        if self.r.promote_requested or (self.r.guard_until is not None and self.now >= self.r.guard_until):
            return self.finalize(promoted=self.r.promote_requested)
        self._record_sample("continuous")
        return "guarding"

    def finalize(self, *, analysis: dict | None = None, promoted: bool = False) -> str:
        """The new version becomes stable: old scaled to zero, live, previous superseded, alias moved."""
        if self.previous is not None:
            self.cluster.scale_workload(self.namespace, self.stable_name, 0)
        self._move_alias(self.d)
        note = " (promoted)" if promoted else ""
        self.commit(status=S.LIVE, previous_status=S.SUPERSEDED if self.previous is not None else None,
                    reason=f"Live{note}: v{self.d.version.version} serves 100 % of {self.env.name} traffic.",
                    phase=Phase.DONE, cluster_synced=True, promote_requested=False, analysis=analysis,
                    canary_weight=100, deployment_fields={"live_since": self.now})
        self._evaluate_checklist_on_commit()
        return "live"

    def _evaluate_checklist_on_commit(self) -> None:
        """Going live (or rolling back) in staging is evidence for latency_sla and staging_soak."""
        from worker.tasks import evaluate_checklist

        version_id = self.d.version_id
        transaction.on_commit(lambda: evaluate_checklist.delay(version_id))

    def _move_alias(self, deployment: Deployment) -> None:
        from apps.registry import mlflow_client

        setter = self.engine.set_alias or mlflow_client.set_alias
        try:
            setter(deployment.model.mlflow_name, self.env.name, deployment.version.version)
        except Exception as exc:  # the registry is informational here; never block traffic on it
            services._event(deployment, None, "error", deployment.status, deployment.status,
                            f"Could not move the MLflow alias '{self.env.name}': {str(exc)[:300]}")

    def watch_paused(self) -> str:
        if self.r.phase in (Phase.STEP, Phase.GUARD, Phase.SMOKE):
            if (outcome := self._breach("continuous")) is not None:
                return outcome
            self._record_sample("continuous")
        return "paused"

    # -- rollback convergence --
    def fail(self, reason: str) -> None:
        self.commit(status=S.FAILED, reason=reason, phase=Phase.ROLLING_BACK, cluster_synced=False, abort_reason=reason)
        self.converge_rollback()

    def converge_rollback(self) -> str:
        """Traffic to the stable version, the new version to zero. Idempotent; repeats until done."""
        if self.r.phase == Phase.RESTORING:
            return self.converge_restore()
        if self.previous is not None and self.previous.status == S.LIVE:
            ready = self.cluster.workload_status(self.namespace, self.stable_name)
            if not ready.exists or ready.desired < self.stable_min_replicas():
                self.ensure_replicas(self.previous, self.stable_min_replicas())
            if ready.exists and ready.ready > 0:
                self.set_weights(0)
            else:
                return "restoring"
        elif self.previous is None:
            self.cluster.delete_route(self.namespace, self.d.model.name)  # nothing else to serve
        self.cluster.scale_workload(self.namespace, self.canary_name, 0)
        target = f"100 % to {self.stable_name}; " if self.previous is not None else ""
        self.commit(phase=Phase.DONE, cluster_synced=True, canary_weight=0, canary_replicas=0,
                    event_kind="traffic", event=f"Rolled back: {target}{self.canary_name} scaled to zero.")
        return "rolled_back"

    def converge_restore(self) -> str:
        """A live deployment was rolled back: bring the previous version up, move traffic, scale down."""
        previous = self.previous
        replicas = self.stable_min_replicas()
        status = self.cluster.workload_status(self.namespace, self.stable_name)
        if not status.exists or status.desired < replicas:
            self.ensure_replicas(previous, replicas)
            return "restoring"
        if status.ready < 1:
            return "restoring"
        self.set_weights(0)
        self.cluster.scale_workload(self.namespace, self.canary_name, 0)
        self._move_alias(previous)
        self.commit(phase=Phase.DONE, cluster_synced=True, canary_weight=0, canary_replicas=0, event_kind="traffic",
                    event=f"Restored v{previous.version.version}: 100 % to {self.stable_name}; {self.canary_name} "
                          "scaled to zero.")
        return "restored"

    def converge_live(self) -> str:
        """A live deployment whose objects the cluster may lack (a fresh cluster, a restored
        database): re-create them declaratively and route the model to it, unless a newer
        rollout of the model is driving the route."""
        from worker.cluster.spec import RouteSpec, TenantSpec

        tenant = self.d.tenant
        self.cluster.ensure_tenant(TenantSpec(slug=tenant.slug, namespace=self.namespace, gpu_quota=tenant.gpu_quota))
        replicas = int(self.d.config.get("min_replicas", 1))
        status = self.ensure_replicas(self.d, replicas)
        if not status.exists or status.ready < 1:
            return "restoring"
        rollout_in_progress = Deployment.objects.filter(model=self.d.model, environment=self.env,
                                                        status__in=ACTIVE).exists()
        if not rollout_in_progress:
            self.cluster.set_route(RouteSpec(namespace=self.namespace, tenant=tenant.slug, model=self.d.model.name,
                                             backends=((self.canary_name, 100),)))
        self.commit(cluster_synced=True, canary_weight=100, event_kind="traffic",
                    event=f"{self.canary_name} is live on the cluster with {status.ready} ready replica(s).")
        return "materialised"
