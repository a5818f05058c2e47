"""Savings advice with estimated monthly USD, each with the figures it is based on.

Computed on demand from the last `LOOKBACK_DAYS` of metered hours of every running
deployment the caller may see (nothing stored, so advice is never stale). A month is
730 hours. The rules:

* **right_size** — mean GPU utilisation < 50 %: run fewer replicas (enough for 60 %
  utilisation, at least one); with one replica already, a cheaper instance type with the
  same GPU count. Savings = the replicas or price difference × 730 h.
* **staging_to_zero** — a staging deployment idle (zero requests) in at least half of its
  metered hours: scale it to zero while idle. Savings = idle share × its monthly cost.
* **raise_spot** — spot share below the target (staging 100 %, other environments 50 %,
  keeping an on-demand floor for production): savings = instance-hours a month × (on-demand
  − spot rate) × the added share.
* **batch_requests** — a busy GPU deployment (utilisation ≥ 50 %) with at least two replicas:
  dynamic batching typically serves ~1.5× the requests per GPU (an assumption stated in the
  figures), so it needs ceil(replicas / 1.5) replicas.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone

from apps.costs.choices import RecommendationKind

HOURS_PER_MONTH = Decimal(730)
LOOKBACK_DAYS = 7
UTILIZATION_FLOOR = 0.5
TARGET_UTILIZATION = 0.6
BATCHING_GAIN = 1.5
SPOT_TARGET = {"staging": 100}
DEFAULT_SPOT_TARGET = 50
MIN_HOURS = 6  # advice needs at least this many metered hours


@dataclass
class Recommendation:
    kind: str
    title: str
    detail: str
    monthly_savings_usd: Decimal
    deployment_id: int
    model_id: int
    model: str
    tenant: str
    environment: str
    figures: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "title": self.title, "detail": self.detail,
                "monthly_savings_usd": str(self.monthly_savings_usd.quantize(Decimal("0.01"))),
                "deployment": self.deployment_id, "model_id": self.model_id, "model": self.model,
                "tenant": self.tenant, "environment": self.environment, "figures": self.figures}


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def recommend(records: QuerySet, *, now: datetime | None = None) -> list[Recommendation]:
    """Advice for every running deployment present in the (scoped) `records`, biggest saving first."""
    from apps.deployments.models import Deployment, InstanceType

    now = now or timezone.now()
    since = now - timedelta(days=LOOKBACK_DAYS)
    stats = {row["deployment_id"]: row for row in records.filter(hour__gte=since).order_by().values(
        "deployment_id").annotate(
        hours=Count("id"), usd=Sum("usd"), replica_hours=Sum("replica_hours"), instance_hours=Sum("instance_hours"),
        util=Avg("gpu_utilization"), served=Sum("requests"),
        measured_hours=Count("id", filter=Q(requests__isnull=False)),
        idle_hours=Count("id", filter=Q(requests=0)))}
    deployments = (Deployment.objects.filter(pk__in=list(stats), status__in=["live", "progressing", "paused"])
                   .select_related("model", "tenant", "environment"))
    catalog = {i.name: i for i in InstanceType.objects.filter(available=True)}
    out: list[Recommendation] = []
    for d in deployments:
        s = stats[d.pk]
        if s["hours"] < MIN_HOURS or not s["replica_hours"]:
            continue
        cfg = d.config or {}
        instance = catalog.get(cfg.get("instance_type"))
        hours = Decimal(s["hours"])
        replicas = Decimal(s["replica_hours"]) / hours  # mean replicas running
        monthly = Decimal(s["usd"]) / hours * HOURS_PER_MONTH
        per_replica_hour = Decimal(s["usd"]) / Decimal(s["replica_hours"])
        base = dict(deployment_id=d.pk, model_id=d.model_id, model=d.model.name, tenant=d.tenant.slug,
                    environment=d.environment.name)
        util = s["util"]
        gpus = int(cfg.get("gpus_per_replica") or 0)
        figures_common = {"metered_hours": s["hours"], "mean_replicas": float(round(replicas, 2)),
                          "monthly_cost_usd": str(_money(monthly)), "instance_type": cfg.get("instance_type")}
        # right-size
        if gpus and util is not None and util < UTILIZATION_FLOOR:
            needed = max(1, math.ceil(float(replicas) * util / TARGET_UTILIZATION))
            if needed < replicas:
                saving = (replicas - needed) * per_replica_hour * HOURS_PER_MONTH
                out.append(Recommendation(
                    RecommendationKind.RIGHT_SIZE, f"Right-size {d.model.name}: {needed} replica(s) instead of "
                    f"{float(round(replicas, 1)):g}",
                    f"GPUs averaged {util:.0%} busy over {s['hours']} h; {needed} replica(s) would run at about "
                    f"{TARGET_UTILIZATION:.0%}. Lower min_replicas.", _money(saving), **base,
                    figures={**figures_common, "gpu_utilization": round(util, 3), "suggested_replicas": needed,
                             "usd_per_replica_hour": str(per_replica_hour.quantize(Decimal("0.0001")))}))
            elif instance is not None and util >= 0.05:  # an idle GPU wants scaling to zero, not a smaller one
                cheaper = sorted((i for i in catalog.values() if i.gpus == instance.gpus and i.gpus
                                  and i.on_demand_usd_hour < instance.on_demand_usd_hour
                                  and i.gpu_memory_gib >= min(instance.gpu_memory_gib, 16)),
                                 key=lambda i: i.on_demand_usd_hour)
                if cheaper:
                    target = cheaper[0]
                    ratio = target.hourly_usd(int(cfg.get("spot_percent") or 0)) / \
                        instance.hourly_usd(int(cfg.get("spot_percent") or 0))
                    saving = monthly * (1 - ratio)
                    out.append(Recommendation(
                        RecommendationKind.RIGHT_SIZE, f"Right-size {d.model.name}: {target.name} instead of "
                        f"{instance.name}",
                        f"GPUs averaged {util:.0%} busy on one replica; a {target.gpu_model} "
                        f"({target.name}, ${target.on_demand_usd_hour}/h) has room for this load.",
                        _money(saving), **base,
                        figures={**figures_common, "gpu_utilization": round(util, 3), "suggested_instance": target.name,
                                 "current_usd_hour": str(instance.on_demand_usd_hour),
                                 "suggested_usd_hour": str(target.on_demand_usd_hour)}))
        # staging to zero
        if d.environment.name == "staging" and s["measured_hours"] and s["idle_hours"] * 2 >= s["measured_hours"]:
            idle_share = Decimal(s["idle_hours"]) / Decimal(s["measured_hours"])
            out.append(Recommendation(
                RecommendationKind.STAGING_TO_ZERO, f"Scale staging {d.model.name} to zero when idle",
                f"No requests in {s['idle_hours']} of {s['measured_hours']} measured hours; scale to zero "
                "outside test runs.", _money(monthly * idle_share), **base,
                figures={**figures_common, "idle_hours": s["idle_hours"], "measured_hours": s["measured_hours"],
                         "idle_share": float(round(idle_share, 3))}))
        # raise spot
        spot = int(cfg.get("spot_percent") or 0)
        target_spot = SPOT_TARGET.get(d.environment.name, DEFAULT_SPOT_TARGET)
        if instance is not None and spot < target_spot and s["instance_hours"]:
            instance_hours_month = Decimal(s["instance_hours"]) / hours * HOURS_PER_MONTH
            saving = instance_hours_month * (instance.on_demand_usd_hour - instance.spot_usd_hour) * \
                Decimal(target_spot - spot) / 100
            if saving > 0:
                out.append(Recommendation(
                    RecommendationKind.RAISE_SPOT, f"Run {d.model.name} at {target_spot} % spot (now {spot} %)",
                    f"Spot {instance.name} costs ${instance.spot_usd_hour}/h against ${instance.on_demand_usd_hour}/h "
                    "on demand" + ("; keep an on-demand floor in production." if target_spot < 100 else "."),
                    _money(saving), **base,
                    figures={**figures_common, "spot_percent": spot, "suggested_spot_percent": target_spot,
                             "on_demand_usd_hour": str(instance.on_demand_usd_hour),
                             "spot_usd_hour": str(instance.spot_usd_hour),
                             "instance_hours_per_month": float(round(instance_hours_month, 1))}))
        # batch requests
        if gpus and util is not None and util >= UTILIZATION_FLOOR and replicas >= 2:
            needed = math.ceil(float(replicas) / BATCHING_GAIN)
            if needed < replicas:
                saving = (replicas - needed) * per_replica_hour * HOURS_PER_MONTH
                out.append(Recommendation(
                    RecommendationKind.BATCH_REQUESTS, f"Batch requests to {d.model.name}",
                    f"GPUs are {util:.0%} busy serving {s['served'] or 0:,} requests in {s['hours']} h; dynamic "
                    f"batching (assumed {BATCHING_GAIN}× throughput per GPU) needs about {needed} replica(s).",
                    _money(saving), **base,
                    figures={**figures_common, "gpu_utilization": round(util, 3), "requests": s["served"],
                             "assumed_batching_gain": BATCHING_GAIN, "suggested_replicas": needed}))
    out.sort(key=lambda r: r.monthly_savings_usd, reverse=True)
    return out


def by_kind(recommendations: list[Recommendation]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for r in recommendations:
        totals[r.kind] += r.monthly_savings_usd
    return dict(totals)
