"""Cost pages: the overview (/costs/), one model's costs, and the CSV export.

Read-only; scoping through `ScopedViewMixin.scoped()` (other team's model → 404) and the
same report functions as the API, so page, CSV and API agree.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpResponseBadRequest
from django.views import View

from apps.core.errors import DomainError
from apps.core.ui import ScopedViewMixin
from apps.costs import charts, exports, recommendations, reports
from apps.costs.forms import CostRangeForm
from apps.costs.models import ActualCost, BudgetAlert, CostAnomaly, CostRecord
from apps.registry.models import Model
from apps.tenancy.models import Tenant


class _CostPage(ScopedViewMixin):
    def params(self, *, model: Model | None = None):
        data = self.request.GET.copy()
        if model is not None:
            data["model"] = str(model.pk)
        elif self.team is not None and not data.get("tenant"):
            data["tenant"] = self.team.slug
        return data

    def report(self, data, group_by: str):
        data = data.copy()
        data["group_by"] = group_by
        return reports.run_report(self.scoped(CostRecord), self.scoped(ActualCost), data)


class CostOverviewView(_CostPage, View):
    """Month to date against budget, daily cost by model, cost per 1k, models, anomalies, advice."""

    def get(self, request):
        data = self.params()
        form = CostRangeForm(data)
        try:
            by_model = self.report(data, "model")
            by_day = self.report(data, "day")
        except DomainError as exc:
            form.is_valid()
            form.add_domain_error(exc)
            data = self.params()
            for key in ("start", "end"):
                data.pop(key, None)
            by_model, by_day = self.report(data, "model"), self.report(data, "day")
        start, end = by_day.start, by_day.end
        form = _with_dates(form, data, start, end)
        records = self.scoped(CostRecord)
        tenants = self.scoped(Tenant)
        if by_day.filters.get("tenant"):
            records = records.filter(tenant__slug=by_day.filters["tenant"])
            tenants = tenants.filter(slug=by_day.filters["tenant"])
        if by_day.filters.get("environment"):
            records = records.filter(environment__name=by_day.filters["environment"])
        days, series = reports.daily_by_model(records, start=start, end=end)
        budgets = reports.month_to_date(tenants)
        month = budgets[0].month if budgets else None
        burn = None
        if budgets:
            budget = sum((b.budget for b in budgets), reports.ZERO)
            forecast = sum((b.forecast for b in budgets), reports.ZERO)
            today = reports.today_utc()
            daily = reports.daily_totals(self.scoped(CostRecord).filter(tenant__in=[b.tenant.pk for b in budgets]),
                                         start=month, end=today)
            burn = charts.budget_burn(month, daily, budget=budget, forecast=forecast, today=today)
        alerts = {}
        for alert in BudgetAlert.objects.filter(tenant__in=[b.tenant.pk for b in budgets], month=month):
            alerts.setdefault(alert.tenant_id, []).append(alert.threshold)
        anomalies = (self.scoped(CostAnomaly).filter(tenant__in=tenants).select_related("model", "tenant")
                     .order_by("-day", "-increase")[:8])
        advice = recommendations.recommend(records)
        context = {
            "form": form, "by_model": by_model, "by_day": by_day, "start": start, "end": end,
            "stacked": charts.stacked_daily(days, series), "per_1k": charts.per_1k_line(
                reports.daily_per_1k(records, start=start, end=end)),
            "burn": burn, "budgets": [(b, sorted(alerts.get(b.tenant.pk, []))) for b in budgets],
            "anomalies": anomalies, "advice": advice[:6], "advice_total": sum(
                (r.monthly_savings_usd for r in advice), reports.ZERO), "advice_count": len(advice),
            "has_actuals": any(r["actual_usd"] is not None for r in by_day.rows),
            "export_query": _query(data, by_day),
        }
        return self.render_page("costs/cost_overview.html", context)


class ModelCostView(_CostPage, View):
    """One model's costs: daily by environment, cost per 1k, per-day table, anomalies, advice."""

    def get(self, request, pk: int):
        model = self.get_scoped_or_404(self.scoped(Model).select_related("tenant"), pk=pk)
        data = self.params(model=model)
        form = CostRangeForm(data)
        try:
            by_day = self.report(data, "day")
            by_env = self.report(data, "environment")
        except DomainError as exc:
            form.is_valid()
            form.add_domain_error(exc)
            for key in ("start", "end"):
                data.pop(key, None)
            by_day, by_env = self.report(data, "day"), self.report(data, "environment")
        start, end = by_day.start, by_day.end
        form = _with_dates(form, data, start, end)
        records = self.scoped(CostRecord).filter(model=model)
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        env_series = []
        for env in by_env.rows:
            per_day = reports.daily_totals(records.filter(environment__name=env["environment"]), start=start, end=end)
            env_series.append((env["environment"], [per_day.get(d, reports.ZERO) for d in days]))
        context = {
            "model": model, "form": form, "by_day": by_day, "by_env": by_env, "start": start, "end": end,
            "stacked": charts.stacked_daily(days, env_series, title="Daily cost by environment"),
            "per_1k": charts.per_1k_line(reports.daily_per_1k(records, start=start, end=end)),
            "anomalies": self.scoped(CostAnomaly).filter(model=model).order_by("-day")[:10],
            "advice": recommendations.recommend(records),
            "has_actuals": any(r["actual_usd"] is not None for r in by_day.rows),
            "export_query": _query(data, by_day, group_by="day"),
        }
        return self.render_page("costs/model_costs.html", context)


class CostExportView(_CostPage, View):
    """The page's rows as CSV (same filters; `group_by` as in the API, default model)."""

    def get(self, request):
        data = self.params()
        data.setdefault("group_by", "model")
        try:
            report = reports.run_report(self.scoped(CostRecord), self.scoped(ActualCost), data)
        except DomainError as exc:
            return HttpResponseBadRequest(f"{exc.field or 'request'}: {exc.message}\n",
                                          content_type="text/plain; charset=utf-8")
        return exports.csv_response(report)


def _with_dates(form: CostRangeForm, data, start, end) -> CostRangeForm:
    """Show the range in force (defaults included) in the date inputs; keep a form with errors."""
    if form.errors:
        return form
    shown = data.copy()
    shown["start"], shown["end"] = start.isoformat(), end.isoformat()
    return CostRangeForm(shown)


def _query(data, report, *, group_by: str = "model") -> str:
    from django.http import QueryDict

    q = QueryDict(mutable=True)
    for key in ("tenant", "model", "environment"):
        if data.get(key):
            q[key] = data.get(key)
    q["start"], q["end"], q["group_by"] = report.start.isoformat(), report.end.isoformat(), group_by
    return q.urlencode()
