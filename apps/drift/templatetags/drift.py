"""Drift fragments other pages include in one line: the model page's panel, the dashboard's alerts."""

from __future__ import annotations

from django import template

from apps.drift.models import Baseline, DriftReport

register = template.Library()


@register.inclusion_tag("drift/includes/model_panel.html", takes_context=True)
def drift_panel(context, model) -> dict:
    """Latest drift report of `model` (any version) and whether it waits for an acknowledgement."""
    report = (DriftReport.objects.filter(model=model).select_related("version")
              .order_by("-created_at", "-id").first())
    has_baseline = report is not None or Baseline.objects.filter(version__model=model).exists()
    return {"model": model, "report": report, "has_baseline": has_baseline}


@register.inclusion_tag("drift/includes/dashboard_alerts.html", takes_context=True)
def drift_alerts(context, limit: int = 5) -> dict:
    """Medium and high drift of the user's (or the chosen team's) models not yet acknowledged."""
    from apps.core.ui import current_team

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"alerts": []}
    reports = DriftReport.objects.for_user(user, "view").filter(severity__in=["medium", "high"],
                                                                  acknowledged_at__isnull=True)
    team = current_team(request)
    if team is not None:
        reports = reports.for_tenant(team.pk)
    alerts = list(reports.select_related("model__tenant", "version").order_by("-created_at", "-id")[:limit * 4])
    seen, unique = set(), []
    for report in alerts:  # newest per version only
        if report.version_id not in seen:
            seen.add(report.version_id)
            unique.append(report)
    return {"alerts": unique[:limit]}
