"""Template helpers for the pages: permission checks for write controls, navigation, formatting."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django import template
from django.urls import NoReverseMatch, reverse

from apps.core.scoping import tenant_id_of

register = template.Library()


@register.filter
def can_change(user, obj) -> bool:
    """Whether `user` may change `obj` (a tenant-owned row): decides if write controls render."""
    if user is None or not getattr(user, "is_authenticated", False) or obj is None:
        return False
    return user.can("change", tenant_id_of(obj))


@register.filter
def can_change_any(user) -> bool:
    """Whether `user` may create things in at least one team (shows "New model")."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_platform or user.tenant_ids("change"))


@register.filter
def short(value, length: int = 12) -> str:
    """Hashes and run ids, shortened for tables: the full value goes in a title attribute."""
    text = "" if value is None else str(value)
    prefix = ""
    if text.startswith("sha256:"):
        prefix, text = "sha256:", text[7:]
    return prefix + text[: int(length)] + ("…" if len(text) > int(length) else "")


@register.filter
def percent(part, whole) -> int:
    try:
        return round(100 * int(part) / int(whole)) if int(whole) else 0
    except (TypeError, ValueError):
        return 0


@register.filter
def pretty_json(value) -> str:
    if value in (None, "", {}):
        return ""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str
    active_for: tuple[str, ...]  # view-name prefixes that highlight this entry


# Sections grow as features land (Approvals and Deployments under "Ship", Costs, Drift and
# Runbooks under "Operate"): add their entries here once their pages exist. An entry whose
# URL does not resolve is skipped, so the menu never links to a page that is not there.
NAV: list[tuple[str, list[NavItem]]] = [
    ("Overview", [NavItem("Dashboard", "core:dashboard", "home", ("core:dashboard",))]),
    ("Build", [NavItem("Models", "registry:model_list", "cube", ("registry:", "readiness:"))]),
    ("Ship", [NavItem("Deployments", "deployments:deployment_list", "rocket",
                      ("deployments:deployment_",)),
              NavItem("Approvals", "deployments:approval_list", "check", ("deployments:approval",))]),
    ("Operate", [NavItem("Costs", "costs:cost_overview", "chart", ("costs:",)),
                 NavItem("Runbooks", "runbooks:runbook_index", "book", ("runbooks:",))]),
    ("Monitor", [NavItem("Drift", "drift:overview", "chart", ("drift:",)),
                 NavItem("Notifications", "notifications:destination_list", "list", ("notifications:",))]),
    ("Govern", [NavItem("Audit log", "core:audit_list", "list", ("core:audit",))]),
    ("Account", [NavItem("API tokens", "tenancy:token_list", "key", ("tenancy:token",))]),
]


@register.inclusion_tag("includes/nav.html", takes_context=True)
def sidebar_nav(context) -> dict:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    view_name = match.view_name if match else ""
    sections = []
    for title, items in NAV:
        entries = []
        for item in items:
            try:
                url = reverse(item.url_name)
            except NoReverseMatch:
                continue
            entries.append({"label": item.label, "url": url, "icon": item.icon,
                            "active": any(view_name.startswith(p) for p in item.active_for)})
        if entries:
            sections.append({"title": title, "items": entries})
    return {"sections": sections}


@register.filter
def role_label(user, team) -> str:
    """The user's role in `team`, as a person would say it."""
    if getattr(user, "is_platform", False):
        return "Platform engineer"
    role = user.role_in(team.pk) if team is not None else None
    return {"data_scientist": "Data scientist", "viewer": "Viewer"}.get(role or "", "")


@register.filter
def initials(user) -> str:
    name = str(user) or "?"
    parts = [p for p in name.replace(".", " ").replace("_", " ").split() if p]
    return ("".join(p[0] for p in parts[:2]) or name[:2]).upper()


@register.filter
def ago(value) -> str:
    """'just now' under a minute, else Django's timesince ('3 hours ago')."""
    from django.utils import timezone
    from django.utils.timesince import timesince

    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value).split(',')[0]} ago"
