"""Checklist evaluators whose facts come from staging rollouts (SPEC §2 checklist table).

- latency_sla: a staging deployment of this version met the model's p99 SLA during its
  soak — every step/smoke analysis of it measured canary p99 below the SLA, and it went live.
- staging_soak: this version was live in staging for at least the environment's minimum soak
  with all gates green (no rollback verdict while it ran).

Registered into apps.readiness.evaluators.EVALUATORS when the app loads.
"""

from __future__ import annotations

from django.db.models import Max
from django.utils import timezone

from apps.deployments.choices import DeploymentStatus, Verdict
from apps.deployments.models import Analysis, Deployment
from apps.readiness.choices import ItemStatus

WENT_LIVE = [DeploymentStatus.LIVE, DeploymentStatus.SUPERSEDED]


def _staging(version):
    return Deployment.objects.filter(version=version, environment__name="staging").select_related("environment")


def latency_sla(version):
    sla = version.model.sla_p99_ms
    deployments = list(_staging(version).order_by("-created_at")[:20])
    if not deployments:
        return None
    for deployment in deployments:
        if deployment.status not in WENT_LIVE:
            continue
        measured = Analysis.objects.filter(rollout__deployment=deployment, kind__in=["step", "smoke"],
                                           canary_p99_ms__isnull=False).aggregate(worst=Max("canary_p99_ms"))["worst"]
        if measured is None:
            continue
        if measured < sla:
            return ItemStatus.PASS, (f"Staging deployment #{deployment.pk}: worst p99 {measured:.0f} ms < SLA {sla} ms "
                                     "during its soak.")
        return ItemStatus.FAIL, f"Staging deployment #{deployment.pk}: p99 {measured:.0f} ms ≥ SLA {sla} ms."
    breach = Analysis.objects.filter(rollout__deployment__in=deployments, verdict=Verdict.ROLLBACK,
                                     gate="latency").order_by("-created_at").first()
    if breach is not None:
        return ItemStatus.FAIL, f"Rolled back in staging on latency: {breach.reason}."
    return None


def staging_soak(version):
    for deployment in _staging(version).filter(status__in=WENT_LIVE).order_by("-live_since"):
        started = deployment.started_at or deployment.live_since
        # Time live so far counts too; never less than the soak up to going live.
        ended = deployment.finished_at or max(timezone.now(), deployment.live_since or timezone.now())
        minimum = deployment.environment.min_soak_seconds
        seconds = (ended - started).total_seconds() if started else 0
        breached = Analysis.objects.filter(rollout__deployment=deployment, verdict=Verdict.ROLLBACK).exists()
        if breached:
            continue
        if seconds >= minimum:
            return ItemStatus.PASS, (f"Live in staging as #{deployment.pk} for {int(seconds)} s "
                                     f"(minimum {minimum} s) with every gate green.")
        return None  # live but not long enough yet: the next evaluation will see more
    failed = _staging(version).filter(status__in=[DeploymentStatus.ROLLED_BACK, DeploymentStatus.FAILED]).first()
    if failed is not None:
        return ItemStatus.FAIL, f"Staging deployment #{failed.pk} ended {failed.status}: {failed.status_reason[:200]}"
    return None


def register() -> None:
    from apps.readiness.evaluators import EVALUATORS

    EVALUATORS.setdefault("latency_sla", latency_sla)
    EVALUATORS.setdefault("staging_soak", staging_soak)
