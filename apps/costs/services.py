"""Cost writes: metering, AWS actuals, anomaly detection and budget alerts.

Every function here is safe to run again: metering replaces the (deployment, hour) row,
ingestion replaces the (day, tags) row, anomalies and budget alerts are unique per
(model, day) and (tenant, month, threshold) and notify only when first created.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone

from apps.core import audit
from apps.core.errors import ServiceUnavailable, ValidationFailed
from apps.costs import metering
from apps.costs.choices import BUDGET_THRESHOLDS
from apps.costs.errors import CostErrorCode
from apps.costs.models import ActualCost, BudgetAlert, CostAnomaly, CostRecord
from apps.costs.usage import MetricsUsage, UsageReader

log = logging.getLogger(__name__)

ANOMALY_FACTOR = Decimal("1.20")  # a day more than 20 % above its trailing mean
ANOMALY_WINDOW_DAYS = 7
ANOMALY_MIN_HISTORY_DAYS = 3
CAUSE_KINDS = ("transition", "step", "traffic", "scale")
UPDATE_FIELDS = ["tenant", "model", "environment", "version_number", "day", "instance_type", "gpus_per_replica",
                 "replica_hours", "gpu_hours", "instance_hours", "spot_share", "on_demand_rate", "spot_rate",
                 "on_demand_usd", "spot_usd", "usd", "requests", "gpu_utilization", "usage_source", "metered_at"]


# --- metering ------------------------------------------------------------------------------

def _candidates(start: datetime, end: datetime, deployment_ids: Iterable[int] | None = None):
    """Deployments that may have run during [start, end): started before `end` and not
    finished before `start` (a superseded deployment restored by a rollback runs again)."""
    from apps.deployments.models import Deployment

    began = Q(started_at__lt=end) | Q(started_at__isnull=True, live_since__lt=end)
    running = Q(status__in=metering.RUNNING) | Q(finished_at__isnull=True) | Q(finished_at__gt=start)
    qs = Deployment.objects.filter(began & running).select_related("environment", "version", "model", "tenant",
                                                                    "rollout")
    if deployment_ids is not None:
        qs = qs.filter(pk__in=list(deployment_ids))
    return list(qs)


def timelines(deployments: list) -> dict[int, list[metering.Change]]:
    """Replica step functions for many deployments with two queries (events, successors)."""
    from apps.deployments.models import Deployment, RolloutEvent

    ids = [d.pk for d in deployments]
    events: dict[int, list[metering.EventFact]] = defaultdict(list)
    for row in RolloutEvent.objects.filter(deployment_id__in=ids).values_list(
            "deployment_id", "created_at", "kind", "to_status", "step_index"):
        events[row[0]].append(metering.EventFact(row[1], row[2], row[3], row[4]))
    successors: dict[int, list[tuple[list, metering.EventFact]]] = defaultdict(list)
    rolling = {s.pk: s for s in Deployment.objects.filter(previous_id__in=ids, strategy="rolling")
               .select_related("rollout")}
    if rolling:
        for row in RolloutEvent.objects.filter(deployment_id__in=list(rolling), kind__in=("step", "traffic"),
                                               step_index__isnull=False).values_list(
                "deployment_id", "created_at", "kind", "to_status", "step_index"):
            successor = rolling[row[0]]
            batches = getattr(getattr(successor, "rollout", None), "batches", None) or []
            successors[successor.previous_id].append((batches, metering.EventFact(row[1], row[2], row[3], row[4])))
    out = {}
    for d in deployments:
        rollout = getattr(d, "rollout", None)
        out[d.pk] = metering.timeline(
            config=d.config or {}, strategy=d.strategy, batches=(rollout.batches if rollout else []) or [],
            events=events.get(d.pk, []), successor_events=successors.get(d.pk, []), started_at=d.started_at,
            live_since=d.live_since, finished_at=d.finished_at)
    return out


def meter_hour(hour: datetime, *, usage: UsageReader | None = None, now: datetime | None = None,
               deployment_ids: Iterable[int] | None = None, instance_types: dict | None = None) -> int:
    """Record what every deployment cost in the hour starting at `hour`; returns rows written.

    Idempotent: the (deployment, hour) row is replaced; a deployment that turns out not to
    have run in the hour loses any row it had. An hour still in progress meters up to `now`.
    """
    return meter_hours([metering.hour_start(hour)], usage=usage, now=now, deployment_ids=deployment_ids,
                       instance_types=instance_types)


def meter_hours(hours: list[datetime], *, usage: UsageReader | None = None, now: datetime | None = None,
                deployment_ids: Iterable[int] | None = None, instance_types: dict | None = None) -> int:
    """`meter_hour` for many hours at once: deployments and their timelines are read once for
    the whole span (a backfill of a month is a handful of queries, not thousands)."""
    from apps.deployments.models import InstanceType

    now = now or timezone.now()
    hours = sorted({metering.hour_start(h) for h in hours if metering.hour_start(h) < now})
    if not hours:
        return 0
    usage = usage or MetricsUsage(now=now)
    span_end = min(hours[-1] + timedelta(hours=1), now)
    deployments = _candidates(hours[0], span_end, deployment_ids)
    lines = timelines(deployments)
    catalog = instance_types if instance_types is not None else {i.name: i for i in InstanceType.objects.all()}
    written = 0
    for chunk_start in range(0, len(hours), 48):
        chunk = hours[chunk_start:chunk_start + 48]
        rows, empty = [], []
        for start in chunk:
            end = min(start + timedelta(hours=1), now)
            for d in deployments:
                seconds = metering.replica_seconds(lines[d.pk], start, end)
                instance = catalog.get((d.config or {}).get("instance_type"))
                if seconds <= 0 or instance is None:
                    empty.append((d.pk, start))
                    continue
                rows.append(_record(d, start, end, seconds, instance, usage.hour(d, start, end), now))
        with transaction.atomic():
            if empty:
                gone = Q()
                for start in chunk:
                    ids = [pk for pk, at in empty if at == start]
                    if ids:
                        gone |= Q(hour=start, deployment_id__in=ids)
                CostRecord.objects.filter(gone).delete()
            if rows:
                # One statement; a concurrent meter of the same hour updates instead of doubling.
                CostRecord.objects.bulk_create(rows, update_conflicts=True, unique_fields=["deployment", "hour"],
                                               update_fields=UPDATE_FIELDS, batch_size=500)
        written += len(rows)
    return written


def _record(d, start: datetime, end: datetime, seconds: float, instance, used, now: datetime) -> CostRecord:
    cfg = d.config
    gpus = int(cfg.get("gpus_per_replica") or 0)
    cost = metering.price(seconds=seconds, gpus_per_replica=gpus, instance_gpus=instance.gpus,
                          spot_percent=int(cfg.get("spot_percent") or 0),
                          on_demand_rate=instance.on_demand_usd_hour, spot_rate=instance.spot_usd_hour)
    return CostRecord(
        tenant_id=d.tenant_id, model_id=d.model_id, environment_id=d.environment_id, deployment_id=d.pk,
        version_number=d.version.version, hour=start, day=start.astimezone(UTC).date(),
        instance_type=instance.name, gpus_per_replica=gpus, replica_hours=cost.replica_hours,
        gpu_hours=cost.gpu_hours, instance_hours=cost.instance_hours, spot_share=cost.spot_share,
        on_demand_rate=cost.on_demand_rate, spot_rate=cost.spot_rate, on_demand_usd=cost.on_demand_usd,
        spot_usd=cost.spot_usd, usd=cost.usd, requests=used.requests, gpu_utilization=used.gpu_utilization,
        usage_source=used.source, metered_at=now)


def meter_range(start: datetime, end: datetime, *, usage: UsageReader | None = None,
                now: datetime | None = None) -> int:
    """Backfill: meter every hour in [start, end) (rerunning replaces). Returns rows written."""
    now = now or timezone.now()
    if end <= start:
        raise ValidationFailed([("end", CostErrorCode.END_BEFORE_START, "end must be after start.")])
    return meter_hours(metering.hours_between(start, min(end, now)), usage=usage, now=now)


# --- AWS Cost Explorer actuals -------------------------------------------------------------

def _tag_value(key: str) -> str:
    """Cost Explorer group keys look like 'tenant$recsys' ('tenant$' when untagged)."""
    return key.split("$", 1)[1] if "$" in key else key


def ingest_actuals(start: date, end: date, *, client=None) -> int:
    """Store Cost Explorer daily actuals for [start, end) grouped by the tenant and model tags,
    one query per environment tag (Cost Explorer groups by at most two keys). Returns rows."""
    from apps.deployments.models import Environment
    from apps.registry.models import Model
    from apps.tenancy.models import Tenant

    if end <= start:
        raise ValidationFailed([("end", CostErrorCode.END_BEFORE_START, "end must be after start.")])
    if client is None:
        if not getattr(settings, "SLIPWAY_COSTS_AWS_ENABLED", False):
            raise ServiceUnavailable("AWS Cost Explorer is not configured (SLIPWAY_COSTS_AWS_ENABLED).",
                                     code=CostErrorCode.AWS_NOT_CONFIGURED)
        import boto3

        client = boto3.client("ce", region_name=getattr(settings, "SLIPWAY_COSTS_AWS_REGION", "us-east-1"))
    tenants = dict(Tenant.objects.values_list("slug", "pk"))
    models = {(t, n): pk for pk, t, n in Model.objects.values_list("pk", "tenant__slug", "name")}
    rows: dict[tuple, ActualCost] = {}
    for environment in Environment.objects.values_list("name", flat=True):
        token = None
        while True:
            request = {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()}, "Granularity": "DAILY",
                "Metrics": ["UnblendedCost"], "Filter": {"Tags": {"Key": "environment", "Values": [environment]}},
                "GroupBy": [{"Type": "TAG", "Key": "tenant"}, {"Type": "TAG", "Key": "model"}],
            }
            if token:
                request["NextPageToken"] = token
            try:
                answer = client.get_cost_and_usage(**request)
            except Exception as exc:  # botocore ClientError, EndpointConnectionError, NoCredentialsError…
                raise ServiceUnavailable(f"Cost Explorer did not answer: {type(exc).__name__}: {str(exc)[:200]}",
                                         code=CostErrorCode.AWS_UNAVAILABLE) from exc
            for period in answer.get("ResultsByTime", []):
                day = date.fromisoformat(period["TimePeriod"]["Start"])
                for group in period.get("Groups", []):
                    keys = group.get("Keys", [])
                    tenant_tag = _tag_value(keys[0]) if keys else ""
                    model_tag = _tag_value(keys[1]) if len(keys) > 1 else ""
                    amount = Decimal(str(group.get("Metrics", {}).get("UnblendedCost", {}).get("Amount", "0")))
                    key = (day, tenant_tag, model_tag, environment)
                    rows[key] = ActualCost(
                        day=day, tenant_tag=tenant_tag, model_tag=model_tag, environment_tag=environment,
                        tenant_id=tenants.get(tenant_tag), model_id=models.get((tenant_tag, model_tag)),
                        usd=metering.q4(amount), estimated=bool(period.get("Estimated", False)))
            token = answer.get("NextPageToken")
            if not token:
                break
    with transaction.atomic():
        ActualCost.objects.bulk_create(
            list(rows.values()), update_conflicts=True,
            unique_fields=["day", "tenant_tag", "model_tag", "environment_tag"],
            update_fields=["tenant", "model", "usd", "estimated", "ingested_at"])
    return len(rows)


# --- anomalies -----------------------------------------------------------------------------

def anomaly_verdict(usd: Decimal, trailing: list[Decimal]) -> tuple[bool, Decimal | None]:
    """The rule: `usd` is an anomaly when it is *more than* 20 % above the mean of `trailing`.

    `trailing` holds the days before (oldest first, missing days as zero), at most 7 and
    only from the day after the model's first cost day. Fewer than 3 days of history: no verdict (a
    two-day-old model has no "usual" yet). A zero baseline: no verdict (spend that starts
    from nothing is a new deployment, not an anomaly of an existing one).
    """
    if len(trailing) < ANOMALY_MIN_HISTORY_DAYS:
        return False, None
    baseline = sum(trailing, Decimal(0)) / Decimal(len(trailing))
    if baseline <= 0:
        return False, baseline
    return usd > baseline * ANOMALY_FACTOR, baseline


def _notify(event: str, obj) -> None:
    """Hand the event to the notifications app once it exists (issue 6); a no-op before."""
    from django.apps import apps

    if not apps.is_installed("apps.notifications"):
        return
    from apps.notifications import services as notifications  # type: ignore[import-not-found]

    hook = getattr(notifications, "notify_cost", None)
    if hook is not None:
        transaction.on_commit(lambda: hook(event, obj.pk))


def _causes(model_id: int, start: datetime, end: datetime) -> list[dict]:
    from apps.deployments.models import RolloutEvent

    events = (RolloutEvent.objects.filter(deployment__model_id=model_id, created_at__gte=start, created_at__lt=end,
                                          kind__in=CAUSE_KINDS)
              .select_related("deployment__environment", "deployment__version").order_by("-created_at", "-id")[:30])
    return [{"deployment": e.deployment_id, "version": e.deployment.version.version,
             "environment": e.deployment.environment.name, "at": e.created_at.isoformat(), "kind": e.kind,
             "status": e.to_status, "message": e.message[:300]} for e in events]


def detect_anomalies(day: date | None = None, *, now: datetime | None = None) -> list[CostAnomaly]:
    """Check one complete day (default: yesterday, UTC) for every model; returns new anomalies.

    A model's day is compared with the mean of its up-to-7 previous days (see
    `anomaly_verdict`). Each anomaly is recorded once, audited and handed to notifications.
    """
    now = now or timezone.now()
    day = day or (now.astimezone(UTC).date() - timedelta(days=1))
    window_start = day - timedelta(days=ANOMALY_WINDOW_DAYS)
    daily: dict[int, dict[date, Decimal]] = defaultdict(dict)
    tenants: dict[int, int] = {}
    for model_id, tenant_id, d, usd in (CostRecord.objects.filter(day__gte=window_start, day__lte=day)
                                        .values_list("model_id", "tenant_id", "day").annotate(total=Sum("usd"))
                                        .order_by()):
        daily[model_id][d] = usd
        tenants[model_id] = tenant_id
    firsts = dict(CostRecord.objects.filter(model_id__in=list(daily)).values_list("model_id")
                  .annotate(first=Min("day")).order_by())
    created = []
    for model_id, days in daily.items():
        usd = days.get(day)
        if usd is None:
            continue
        # The model's first cost day is usually partial (it went live mid-day): history
        # starts the day after, so a half day does not drag the baseline down.
        history_start = max(window_start, firsts.get(model_id, day) + timedelta(days=1))
        trailing = [days.get(history_start + timedelta(days=i), Decimal(0))
                    for i in range((day - history_start).days)]
        is_anomaly, baseline = anomaly_verdict(usd, trailing)
        if not is_anomaly:
            continue
        start = datetime.combine(window_start, time.min, tzinfo=UTC)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        fields = {"tenant_id": tenants[model_id], "usd": usd, "baseline_usd": metering.q4(baseline),
                  "history_days": len(trailing), "increase": float(usd / baseline - 1),
                  "causes": _causes(model_id, start, end)}
        try:
            with transaction.atomic():
                anomaly, new = CostAnomaly.objects.get_or_create(model_id=model_id, day=day, defaults=fields)
                if not new:
                    CostAnomaly.objects.filter(pk=anomaly.pk).update(**fields)
                    continue
                anomaly.notified_at = now
                anomaly.save(update_fields=["notified_at"])
                audit.record("cost.anomaly", tenant=anomaly.tenant_id, obj=anomaly,
                             after={"day": day, "usd": usd, "baseline_usd": fields["baseline_usd"],
                                    "increase": round(fields["increase"], 4), "causes": len(fields["causes"])})
                _notify("cost_anomaly", anomaly)
                created.append(anomaly)
        except IntegrityError:  # a concurrent detector created it first; it notified
            continue
    return created


# --- budgets -------------------------------------------------------------------------------

def check_budgets(*, now: datetime | None = None) -> list[BudgetAlert]:
    """Record (and notify) each budget threshold a team's month-to-date cost has reached.

    Thresholds are 50, 80 and 100 % (reached means ≥); each fires at most once per team per
    month — the unique row is the proof it was sent.
    """
    from apps.costs.reports import month_to_date
    from apps.tenancy.models import Tenant

    now = now or timezone.now()
    created = []
    for summary in month_to_date(Tenant.objects.filter(monthly_budget_usd__gt=0), now=now):
        if summary.budget <= 0:
            continue
        for threshold in BUDGET_THRESHOLDS:
            if summary.mtd * 100 < summary.budget * threshold:
                continue
            try:
                with transaction.atomic():
                    alert, new = BudgetAlert.objects.get_or_create(
                        tenant_id=summary.tenant.pk, month=summary.month, threshold=threshold,
                        defaults={"mtd_usd": summary.mtd, "budget_usd": summary.budget,
                                  "forecast_usd": summary.forecast, "notified_at": now})
                    if not new:
                        continue
                    audit.record("cost.budget_threshold", tenant=summary.tenant.pk, obj=alert,
                                 after={"threshold": threshold, "month": summary.month, "mtd_usd": summary.mtd,
                                        "budget_usd": summary.budget, "forecast_usd": summary.forecast})
                    _notify("budget_threshold", alert)
                    created.append(alert)
            except IntegrityError:
                continue
    return created
