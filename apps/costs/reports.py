"""Cost reads: grouped rows, cost per 1,000 predictions, month-to-date with a forecast.

Every function takes an already tenant-scoped queryset (`for_user`), so the UI page, the
API and the CSV export show exactly the same rows to the same person.

USD per 1,000 predictions = USD of the hours whose requests were measured ÷ those requests ×
1000. Zero requests → `None` with the note "no traffic" (never infinity); no measured hour →
`None` with "not measured".
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Min, Q, QuerySet, Sum
from django.utils import timezone

from apps.core.errors import ValidationFailed
from apps.costs.choices import GroupBy
from apps.costs.errors import CostErrorCode
from apps.costs.models import ActualCost, CostRecord

MAX_RANGE_DAYS = 400
DEFAULT_RANGE_DAYS = 30
ZERO = Decimal(0)

# group_by → (the CostRecord column grouped on, the ActualCost column giving the same key).
# Grouping is on ids only (no joins over millions of rows); labels are looked up afterwards
# for the few groups, which keeps the report within a small factor of a bare GROUP BY.
GROUPS = {
    GroupBy.DAY: ("day", "day"),
    GroupBy.MODEL: ("model_id", "model_id"),
    GroupBy.TENANT: ("tenant_id", "tenant_id"),
    GroupBy.ENVIRONMENT: ("environment_id", "environment_tag"),
}


def today_utc(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(UTC).date()


def parse_day(value, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10]) if len(str(value)) == 10 else date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed([(field, CostErrorCode.INVALID_DATE,
                                 f"{field} must be a date as YYYY-MM-DD, not '{str(value)[:40]}'.")]) from None


def parse_range(start, end, *, now: datetime | None = None) -> tuple[date, date]:
    """`start` and `end` (inclusive) as dates; defaults: the last 30 days up to today."""
    end_day = parse_day(end, "end") or today_utc(now)
    start_day = parse_day(start, "start") or end_day - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if end_day < start_day:
        raise ValidationFailed([("end", CostErrorCode.END_BEFORE_START,
                                 f"end ({end_day}) is before start ({start_day}).")])
    if (end_day - start_day).days >= MAX_RANGE_DAYS:
        raise ValidationFailed([("start", CostErrorCode.RANGE_TOO_LONG,
                                 f"A range may span at most {MAX_RANGE_DAYS} days.")])
    return start_day, end_day


def parse_group_by(value) -> list[str]:
    """One of day|model|tenant|environment, or two joined by a comma (e.g. `day,tenant`)."""
    raw = (value or GroupBy.DAY)
    parts = [p.strip() for p in str(raw).split(",") if p.strip()]
    bad = [p for p in parts if p not in GroupBy.values]
    if not parts or bad or len(parts) > 2 or len(set(parts)) != len(parts):
        raise ValidationFailed([("group_by", CostErrorCode.INVALID_GROUP_BY,
                                 "group_by must be one of day, model, tenant, environment (or two of them "
                                 f"joined by a comma), not '{str(raw)[:40]}'.")])
    return parts


def per_1k(usd: Decimal | None, requests: int | None) -> tuple[Decimal | None, str]:
    """(USD per 1,000 predictions, note). Never divides by zero."""
    if requests is None:
        return None, "not measured"
    if requests <= 0:
        return None, "no traffic"
    return ((usd or ZERO) * 1000 / Decimal(requests)).quantize(Decimal("0.000001")), ""


def _labels(group_by: list[str], rows: list[dict]) -> dict:
    """Names for the ids in `rows`: one small query per grouped kind."""
    from apps.deployments.models import Environment
    from apps.registry.models import Model
    from apps.tenancy.models import Tenant

    out: dict = {}
    if GroupBy.MODEL in group_by:
        ids = {r["model_id"] for r in rows}
        out["model"] = {pk: (name, slug) for pk, name, slug in
                        Model.objects.filter(pk__in=ids).values_list("pk", "name", "tenant__slug")}
    if GroupBy.TENANT in group_by:
        ids = {r["tenant_id"] for r in rows}
        out["tenant"] = dict(Tenant.objects.filter(pk__in=ids).values_list("pk", "slug"))
    if GroupBy.ENVIRONMENT in group_by:
        out["environment"] = dict(Environment.objects.values_list("pk", "name"))
    return out


def cost_rows(records: QuerySet, actuals: QuerySet | None, *, group_by: list[str], start: date, end: date,
              filters: dict | None = None) -> list[dict]:
    """Aggregated cost rows, ordered by key; one GROUP BY over the records, one over actuals.

    `filters` (tenant slug, model id, environment name) narrow both querysets alike.
    """
    filters = filters or {}
    records = records.filter(day__gte=start, day__lte=end)
    if filters.get("tenant"):
        records = records.filter(tenant__slug=filters["tenant"])
    if filters.get("model"):
        records = records.filter(model_id=filters["model"])
    if filters.get("environment"):
        records = records.filter(environment__name=filters["environment"])
    columns = [GROUPS[g][0] for g in group_by]
    grouped = list(records.order_by().values(*columns).annotate(
        total_usd=Sum("usd"), total_gpu_hours=Sum("gpu_hours"), total_replica_hours=Sum("replica_hours"),
        total_requests=Sum("requests"), measured_usd=Sum("usd", filter=Q(requests__isnull=False))))
    labels = _labels(group_by, grouped)
    env_names = labels.get("environment", {})
    actual_by_key: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    has_actuals = False
    if actuals is not None:
        actuals = actuals.filter(day__gte=start, day__lte=end)
        if filters.get("tenant"):
            actuals = actuals.filter(tenant__slug=filters["tenant"])
        if filters.get("model"):
            actuals = actuals.filter(model_id=filters["model"])
        if filters.get("environment"):
            actuals = actuals.filter(environment_tag=filters["environment"])
        acolumns = [GROUPS[g][1] for g in group_by]
        for row in actuals.order_by().values(*acolumns).annotate(total_usd=Sum("usd")):
            actual_by_key[tuple(row[c] for c in acolumns)] += row["total_usd"] or ZERO
            has_actuals = True
    out = []
    for row in grouped:
        key = tuple(env_names.get(row[c]) if c == "environment_id" else row[c] for c in columns)
        cost_per_1k, note = per_1k(row["measured_usd"], row["total_requests"])
        item = {
            "usd": row["total_usd"] or ZERO, "actual_usd": actual_by_key.get(key) if has_actuals else None,
            "gpu_hours": row["total_gpu_hours"] or ZERO, "replica_hours": row["total_replica_hours"] or ZERO,
            "requests": row["total_requests"], "usd_per_1k": cost_per_1k, "usd_per_1k_note": note,
            "_measured_usd": row["measured_usd"] or ZERO,
        }
        for g in group_by:
            if g == GroupBy.DAY:
                item["day"] = row["day"].isoformat()
            elif g == GroupBy.MODEL:
                name, slug = labels["model"].get(row["model_id"], ("?", "?"))
                item.update(model=name, model_id=row["model_id"], tenant=slug)
            elif g == GroupBy.TENANT:
                item["tenant"] = labels["tenant"].get(row["tenant_id"], "?")
            else:
                item["environment"] = env_names.get(row["environment_id"], "?")
        out.append(item)
    out.sort(key=lambda item: tuple(str(item[g]) for g in group_by))
    return out


def totals(rows: list[dict]) -> dict:
    usd = sum((r["usd"] for r in rows), ZERO)
    requests = [r["requests"] for r in rows if r["requests"] is not None]
    measured = sum((r.get("_measured_usd", ZERO) for r in rows), ZERO)
    cost_per_1k, note = per_1k(measured, sum(requests) if requests else None)
    actual = [r["actual_usd"] for r in rows if r.get("actual_usd") is not None]
    return {"usd": usd, "gpu_hours": sum((r["gpu_hours"] for r in rows), ZERO),
            "replica_hours": sum((r.get("replica_hours") or ZERO for r in rows), ZERO),
            "requests": sum(requests) if requests else None, "usd_per_1k": cost_per_1k, "usd_per_1k_note": note,
            "actual_usd": sum(actual, ZERO) if actual else None}


# --- month to date -----------------------------------------------------------------------

@dataclass(frozen=True)
class MonthToDate:
    """A team's spend this month against its budget, with an end-of-month forecast.

    Forecast = month-to-date + daily rate × days left (fractional, from `now`). The daily
    rate is the mean of the last up-to-7 complete days since the team's first cost day; with
    no complete day yet, today's spend so far scaled to 24 hours.
    """

    tenant: object
    month: date
    budget: Decimal
    mtd: Decimal
    actual_mtd: Decimal | None
    daily_rate: Decimal
    forecast: Decimal
    days_in_month: int
    days_left: float

    @property
    def percent(self) -> float | None:
        return float(self.mtd / self.budget * 100) if self.budget > 0 else None

    @property
    def forecast_percent(self) -> float | None:
        return float(self.forecast / self.budget * 100) if self.budget > 0 else None

    @property
    def state(self) -> str:
        if self.budget <= 0:
            return "no_budget"
        if self.mtd >= self.budget:
            return "over"
        if self.forecast > self.budget:
            return "forecast_over"
        return "on_track"


def month_to_date(tenants: QuerySet, *, now: datetime | None = None) -> list[MonthToDate]:
    """MonthToDate for each tenant in `tenants` (already scoped), in four queries in all."""
    now = now or timezone.now()
    today = today_utc(now)
    month = today.replace(day=1)
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    next_month = month + timedelta(days=days_in_month)
    month_end = datetime.combine(next_month, time.min, tzinfo=UTC)
    day_start = datetime.combine(today, time.min, tzinfo=UTC)
    tenant_list = list(tenants)
    ids = [t.pk for t in tenant_list]
    mtd = dict(CostRecord.objects.filter(tenant_id__in=ids, day__gte=month, day__lte=today)
               .values_list("tenant_id").annotate(s=Sum("usd")).order_by())
    actual = dict(ActualCost.objects.filter(tenant_id__in=ids, day__gte=month, day__lte=today)
                  .values_list("tenant_id").annotate(s=Sum("usd")).order_by())
    week_start = today - timedelta(days=7)
    week = defaultdict(dict)
    for tid, d, s in (CostRecord.objects.filter(tenant_id__in=ids, day__gte=week_start, day__lte=today)
                      .values_list("tenant_id", "day").annotate(s=Sum("usd")).order_by()):
        week[tid][d] = s
    firsts = dict(CostRecord.objects.filter(tenant_id__in=ids).values_list("tenant_id").annotate(f=Min("day"))
                  .order_by())
    out = []
    hours_today = max((now - day_start).total_seconds() / 3600, 0.0)
    for tenant in tenant_list:
        spent = mtd.get(tenant.pk) or ZERO
        days = week.get(tenant.pk, {})
        first = firsts.get(tenant.pk)
        complete = [today - timedelta(days=i) for i in range(1, 8)]
        complete = [d for d in complete if first is not None and d >= first]
        if complete:
            rate = sum((days.get(d, ZERO) for d in complete), ZERO) / Decimal(len(complete))
        elif hours_today >= 1:
            rate = (days.get(today, ZERO)) * Decimal(24) / Decimal(str(round(hours_today, 4)))
        else:
            rate = ZERO
        days_left = max((month_end - now).total_seconds() / 86400, 0.0)
        forecast = (spent + rate * Decimal(str(round(days_left, 6)))).quantize(Decimal("0.01"))
        out.append(MonthToDate(tenant=tenant, month=month, budget=Decimal(tenant.monthly_budget_usd), mtd=spent,
                               actual_mtd=actual.get(tenant.pk), daily_rate=rate.quantize(Decimal("0.01")),
                               forecast=forecast, days_in_month=days_in_month, days_left=days_left))
    return out


# --- chart series ------------------------------------------------------------------------

def daily_by_model(records: QuerySet, *, start: date, end: date, limit: int = 6) -> tuple[list[date], list[tuple]]:
    """Days and [(model label, [usd per day])], the `limit − 1` costliest models kept apart and
    the rest summed as "other" — a stacked chart stays readable."""
    rows = (records.filter(day__gte=start, day__lte=end).order_by().values("day", "model_id", "model__name",
                                                                            "tenant__slug")
            .annotate(total=Sum("usd")))
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    per_model: dict[int, list[Decimal]] = {}
    names: dict[int, str] = {}
    slugs: dict[int, set] = defaultdict(set)
    for row in rows:
        series = per_model.setdefault(row["model_id"], [ZERO] * len(days))
        series[index[row["day"]]] += row["total"] or ZERO
        names[row["model_id"]] = row["model__name"]
        slugs[row["model__name"]].add(row["tenant__slug"])
    ranked = sorted(per_model, key=lambda m: sum(per_model[m]), reverse=True)
    keep, rest = (ranked, []) if len(ranked) <= limit else (ranked[:limit - 1], ranked[limit - 1:])

    def label(m: int) -> str:
        name = names[m]
        return name if len(slugs[name]) <= 1 else f"{name} ({next(iter(slugs[name]))})"

    series = [(label(m), per_model[m]) for m in keep]
    if rest:
        series.append((f"{len(rest)} other models", [sum((per_model[m][i] for m in rest), ZERO)
                                                     for i in range(len(days))]))
    return days, series


def daily_per_1k(records: QuerySet, *, start: date, end: date) -> list[tuple[date, Decimal | None]]:
    """USD per 1,000 predictions per day (None on days without measured traffic)."""
    rows = {r["day"]: r for r in records.filter(day__gte=start, day__lte=end).order_by().values("day").annotate(
        measured=Sum("usd", filter=Q(requests__isnull=False)), served=Sum("requests"))}
    out = []
    for i in range((end - start).days + 1):
        d = start + timedelta(days=i)
        row = rows.get(d)
        out.append((d, per_1k(row["measured"], row["served"])[0] if row else None))
    return out


def daily_totals(records: QuerySet, *, start: date, end: date) -> dict[date, Decimal]:
    return dict(records.filter(day__gte=start, day__lte=end).order_by().values_list("day").annotate(s=Sum("usd")))


@dataclass
class Report:
    rows: list[dict]
    totals: dict
    group_by: list[str]
    start: date
    end: date
    filters: dict


def run_report(records: QuerySet, actuals: QuerySet | None, data, *, now: datetime | None = None) -> Report:
    """Validate query parameters (the shared CostFilterSet) and build the grouped rows.

    Used by the API, the page and the CSV export alike, so all three agree to the cent.
    """
    from apps.costs.filtersets import CostFilterSet

    fs = CostFilterSet(data, queryset=records)
    if not fs.is_valid():
        raise ValidationFailed([(field, errors.as_data()[0].code or "invalid", str(errors[0]))
                                for field, errors in fs.errors.items()])
    cleaned = fs.form.cleaned_data
    start, end = parse_range(cleaned.get("start"), cleaned.get("end"), now=now)
    group_by = parse_group_by(data.get("group_by"))
    filters = fs.report_filters()
    rows = cost_rows(records, actuals, group_by=group_by, start=start, end=end, filters=filters)
    return Report(rows, totals(rows), group_by, start, end, filters)
