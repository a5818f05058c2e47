"""Template context: the caller's teams, the current team filter, and their role."""

from __future__ import annotations

from apps.tenancy.models import Tenant


def tenancy(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    teams = list(Tenant.objects.for_user(user, "view").only("id", "slug", "name"))
    current_slug = request.session.get("team") if hasattr(request, "session") else None
    current = next((t for t in teams if t.slug == current_slug), None)
    return {
        "my_teams": teams,
        "current_team": current,
        "is_platform": user.is_platform,
    }
