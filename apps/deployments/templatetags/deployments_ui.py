"""Deployment panels that other pages include with one line: the model page's "Live where" and
the dashboard's live rollouts and approvals waiting. Each reads with a constant number of queries."""

from __future__ import annotations

from django import template

from apps.core.ui import current_team
from apps.deployments.choices import ACTIVE, DeploymentStatus
from apps.deployments.models import Deployment, Environment

register = template.Library()
S = DeploymentStatus


@register.filter
def deployment_badge(status: str) -> str:
    """The shared stylesheet's badge class for a deployment status."""
    from apps.deployments.views import STATUS_BADGE

    return STATUS_BADGE.get(status, "badge-source")


@register.inclusion_tag("deployments/includes/live_where.html", takes_context=True)
def live_where(context, model) -> dict:
    """Which version is live in which environment, since when, and what is on its way there."""
    from apps.deployments.views import progress_of

    user = context["request"].user
    rows = list(Deployment.objects.for_user(user, "view").filter(model=model, status__in=[S.LIVE, *ACTIVE,
                                                                                            S.PENDING_APPROVAL])
                .select_related("version", "environment", "rollout").order_by("environment__position", "-id"))
    environments = []
    for env in Environment.objects.all():
        live = next((d for d in rows if d.environment_id == env.pk and d.status == S.LIVE), None)
        moving = [d for d in rows if d.environment_id == env.pk and d.status != S.LIVE]
        for d in moving:
            d.progress = progress_of(d)
        environments.append({"env": env, "live": live, "moving": moving})
    return {"model": model, "environments": environments, "request": context["request"], "user": user}


@register.inclusion_tag("deployments/includes/dashboard.html", takes_context=True)
def dashboard_rollouts(context) -> dict:
    """Live rollouts with their progress, and production requests waiting for approval."""
    from apps.deployments.views import progress_of

    request = context["request"]
    user = request.user
    team = current_team(request)
    visible = Deployment.objects.for_user(user, "view")
    if team is not None:
        visible = visible.for_tenant(team.pk)
    related = ("model", "version", "environment", "tenant", "rollout", "requested_by")
    running = list(visible.filter(status__in=ACTIVE).select_related(*related).order_by("-created_at", "-id")[:8])
    for d in running:
        d.progress = progress_of(d)
    waiting = list(visible.filter(status=S.PENDING_APPROVAL).select_related(*related)
                   .order_by("created_at", "id")[:6])
    return {"running": running, "waiting": waiting, "user": user, "request": request}


@register.filter
def pct(value, digits: int = 2) -> str:
    """0.0123 → '1.23 %'; None → '—'."""
    if value is None:
        return "—"
    try:
        return f"{float(value) * 100:.{int(digits)}f} %"
    except (TypeError, ValueError):
        return "—"


@register.filter
def ms(value) -> str:
    """80.4 → '80 ms'; None → '—'."""
    if value is None:
        return "—"
    try:
        return f"{float(value):.0f} ms"
    except (TypeError, ValueError):
        return "—"


@register.filter
def get(mapping, key):
    """`field_errors|get:field.name` — a dict lookup by a variable key."""
    try:
        return mapping.get(key) or []
    except AttributeError:
        return []


@register.filter
def can_approve(deployment, user) -> bool:
    return bool(deployment.can_approve(user))
