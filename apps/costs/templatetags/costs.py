"""Cost snippets for other apps' pages: the model page panel and the dashboard's month to date."""

from __future__ import annotations

from datetime import timedelta

from django import template

from apps.costs import charts, reports
from apps.costs.models import CostRecord

register = template.Library()


@register.inclusion_tag("costs/model_panel.html", takes_context=True)
def cost_panel(context, model) -> dict:
    """Last 30 days of one model (already visible to the viewer: the page resolved it)."""
    user = context.get("user")
    records = CostRecord.objects.for_user(user, "view").filter(model=model)
    end = reports.today_utc()
    start = end - timedelta(days=29)
    rows = reports.cost_rows(records, None, group_by=["environment"], start=start, end=end)
    total = reports.totals(rows)
    daily = reports.daily_totals(records, start=start, end=end)
    spark = charts.sparkline([float(daily.get(start + timedelta(days=i), 0)) for i in range(30)])
    return {"model": model, "rows": rows, "total": total, "spark": spark}


@register.inclusion_tag("costs/dashboard_mtd.html", takes_context=True)
def month_to_date_card(context) -> dict:
    from apps.core.ui import current_team
    from apps.tenancy.models import Tenant

    request = context.get("request")
    user = getattr(request, "user", None)
    tenants = Tenant.objects.for_user(user, "view")
    team = current_team(request) if request is not None else None
    if team is not None:
        tenants = tenants.filter(pk=team.pk)
    summaries = reports.month_to_date(tenants)
    mtd = sum((s.mtd for s in summaries), reports.ZERO)
    budget = sum((s.budget for s in summaries), reports.ZERO)
    forecast = sum((s.forecast for s in summaries), reports.ZERO)
    return {"summaries": summaries, "mtd": mtd, "budget": budget, "forecast": forecast,
            "percent": float(mtd / budget * 100) if budget else None,
            "over": budget > 0 and forecast > budget}


@register.filter
def money(value, places: int = 2) -> str:
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"${number:,.{int(places)}f}"


@register.filter
def per1k(row) -> str:
    """A row's USD per 1,000 predictions, or its note ("no traffic", "not measured")."""
    value = row.get("usd_per_1k") if isinstance(row, dict) else None
    if value is None:
        return (row.get("usd_per_1k_note") if isinstance(row, dict) else "") or "—"
    return f"${float(value):,.4f}"


@register.filter
def pct(value) -> str:
    if value is None:
        return "—"
    return f"{float(value):.0f} %"


@register.filter
def signed_pct(value) -> str:
    return f"+{float(value) * 100:.0f} %" if value is not None else "—"


@register.filter
def intcomma_plain(value) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "—"
