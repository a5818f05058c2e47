"""Demo cost history: ≥ 30 days, produced by the real metering code over simulated past hours.

`seed_cost_history()` gives each demo model a plausible past — a production deployment that
went live 35 days ago, a redeployment 10 days ago with more replicas (the cost step the anomaly
detector finds, linked to that rollout and scaling change), and a staging deployment that
sits idle nights and weekends — as Deployment rows with the status transitions a real
rollout leaves behind. Then it runs `services.meter_hour` for every past hour, with traffic
from `SimulatedTraffic` (a deterministic daily/weekly curve) in place of the metrics
provider, which cannot answer for hours that never happened. Anomaly detection and budget
checks run over the result. Idempotent: a second call finds its deployments and only meters
the hours that are missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.costs import metering
from apps.costs.choices import UsageSource
from apps.costs.usage import HourUsage

DEMO_REASON = "Demo history"
HISTORY_DAYS = 35


@dataclass(frozen=True)
class DemoPlan:
    """How one model runs in the demo past."""

    instance_type: str
    spot_percent: int
    replicas_before: int
    replicas_after: int
    rps: float  # mean production requests per second
    capacity_rps: float  # per replica


PLANS = {
    "ctr-ranker": DemoPlan("g5.xlarge", 0, 2, 3, 45.0, 40.0),
    "two-tower-retrieval": DemoPlan("g5.2xlarge", 30, 2, 2, 12.0, 60.0),
    "query-intent": DemoPlan("g4dn.xlarge", 50, 2, 2, 30.0, 50.0),
}
DEFAULT_PLAN = DemoPlan("g5.xlarge", 0, 1, 1, 10.0, 40.0)


class SimulatedTraffic:
    """Requests and GPU utilisation per hour: a daily curve (busy afternoons, quiet nights), 35 %
    less at weekends; staging only sees test traffic in working hours on weekdays."""

    def __init__(self, plans: dict[int, tuple[DemoPlan, str, int]]):
        self.plans = plans  # deployment id → (plan, environment name, replicas)

    def hour(self, deployment, start: datetime, end: datetime) -> HourUsage:
        plan, environment, replicas = self.plans.get(deployment.pk, (DEFAULT_PLAN, "production", 1))
        seconds = (end - start).total_seconds()
        hour, weekday = start.hour, start.weekday()
        if environment == "staging":
            busy = weekday < 5 and 9 <= hour < 18 and (hour + start.day) % 3 == 0
            rps = 2.0 if busy else 0.0
        else:
            daily = 0.55 + 0.45 * math.sin((hour - 9) / 24 * 2 * math.pi)
            rps = plan.rps * daily * (0.65 if weekday >= 5 else 1.0)
        requests = int(rps * seconds)
        util = min(1.0, rps / max(replicas * plan.capacity_rps, 1e-9)) if replicas else None
        return HourUsage(requests, round(util, 4) if util is not None else None, UsageSource.SIMULATED)


def _config(plan: DemoPlan, replicas: int, version, spot: int | None = None) -> dict:
    return {"instance_type": plan.instance_type, "gpus_per_replica": 1, "min_replicas": replicas,
            "max_replicas": replicas + 2, "spot_percent": plan.spot_percent if spot is None else spot,
            "strategy": "canary", "steps": [5, 25, 50, 100], "soak_seconds": 300, "sla_p99_ms": version.model.sla_p99_ms,
            "autoscaling": {"queue_depth": 10, "gpu_utilization": 70},
            "image": version.image_digest or "registry.local/demo@sha256:" + "d" * 64}


def _deployment(version, environment, *, plan: DemoPlan, replicas: int, started: datetime, live: datetime,
                ended: datetime | None, previous=None, spot: int | None = None):
    """A deployment row with the transitions a rollout leaves (queued → progressing → live →
    superseded), so metering reconstructs its replicas exactly as for a real one."""
    from apps.deployments.config import config_hash
    from apps.deployments.models import Deployment, Rollout, RolloutEvent

    config = _config(plan, replicas, version, spot)
    requester = version.imported_by or version.model.created_by
    status = "superseded" if ended else "live"
    d = Deployment.objects.create(
        tenant_id=version.model.tenant_id, model=version.model, version=version, environment=environment,
        status=status, status_reason=DEMO_REASON, config=config, config_hash=config_hash(config),
        peak_gpus=replicas * 2, reserved_gpus=replicas, previous=previous, requested_by=requester,
        started_at=started, live_since=live, finished_at=ended)
    Deployment.objects.filter(pk=d.pk).update(created_at=started - timedelta(minutes=5))
    # A live one is not on the (fresh) dev cluster yet: unsynced, the reconciler materialises it.
    Rollout.objects.create(deployment=d, phase="done", steps=[5, 25, 50, 100], step_index=3,
                           canary_weight=100 if status == "live" else 0, canary_replicas=0,
                           cluster_synced=status != "live")
    events = [(started - timedelta(minutes=5), "", "queued",
               f"{DEMO_REASON}: requested v{version.version} with {replicas} replica(s)."),
              (started, "queued", "progressing", "Rollout started."),
              (live, "progressing", "live", "Gates green at 100 %; live.")]
    if ended:
        events.append((ended, "live", "superseded", "Replaced by a new deployment."))
    for at, old, new, message in events:
        RolloutEvent.objects.create(deployment=d, created_at=at, actor_label="worker", kind="transition",
                                    from_status=old, to_status=new, message=message)
    return d


def seed_cost_history(*, days: int = HISTORY_DAYS, now: datetime | None = None, log=print) -> int:
    """Create the demo deployments' past (once) and meter every hour of it; returns rows metered."""
    from apps.costs.services import check_budgets, detect_anomalies, meter_hours
    from apps.deployments.models import Deployment, Environment, InstanceType
    from apps.registry.models import Model

    now = now or timezone.now()
    begin = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    environments = {e.name: e for e in Environment.objects.filter(name__in=["staging", "production"])}
    if len(environments) < 2:
        log("  costs: staging/production environments missing; no cost history")
        return 0
    plans: dict[int, tuple[DemoPlan, str, int]] = {}
    with transaction.atomic():
        existing = list(Deployment.objects.filter(status_reason=DEMO_REASON).select_related("model", "environment"))
        if not existing:
            for model in Model.objects.prefetch_related("versions").order_by("tenant_id", "name"):
                versions = sorted(model.versions.all(), key=lambda v: v.version)
                if not versions:
                    continue
                plan = PLANS.get(model.name, DEFAULT_PLAN)
                # The first version only: later demo versions stay free to be deleted or re-imported.
                first = newer = versions[0]
                switch = now - timedelta(days=10, hours=3)
                old = _deployment(first, environments["production"], plan=plan, replicas=plan.replicas_before,
                                  started=begin - timedelta(minutes=20), live=begin, ended=switch)
                new = _deployment(newer, environments["production"], plan=plan, replicas=plan.replicas_after,
                                  started=switch - timedelta(minutes=40), live=switch, ended=None, previous=old)
                staging = _deployment(newer, environments["staging"], plan=plan, replicas=1,
                                      started=begin - timedelta(minutes=30), live=begin,
                                      ended=None, spot=100)
                existing += [old, new, staging]
        for d in existing:
            plan = PLANS.get(d.model.name, DEFAULT_PLAN)
            plans[d.pk] = (plan, d.environment.name, int(d.config.get("min_replicas", 1)))
    traffic = SimulatedTraffic(plans)
    catalog = {i.name: i for i in InstanceType.objects.all()}
    from apps.costs.models import CostRecord

    done = set(CostRecord.objects.filter(deployment_id__in=list(plans), hour__gte=begin)
               .values_list("hour", flat=True).distinct())
    last = now.replace(minute=0, second=0, microsecond=0)
    missing = [h for h in metering.hours_between(begin, last) if h not in done]
    rows = meter_hours(missing, usage=traffic, now=now, deployment_ids=list(plans), instance_types=catalog)
    anomalies = 0
    day = begin.date() + timedelta(days=1)
    while day < now.date():
        anomalies += len(detect_anomalies(day, now=now))
        day += timedelta(days=1)
    check_budgets(now=now)
    log(f"  costs: metered {rows} deployment-hours of demo history ({days} days, {len(plans)} deployments); "
        f"{anomalies} anomaly(ies)")
    return rows
