"""Permission checks the services make (STYLE §6): 404 for other teams, 403 for viewers."""

from __future__ import annotations

from apps.core.errors import NotFound, NotPermitted


def require(user, action: str, tenant_id: int, *, what: str = "object") -> None:
    """Raise NotFound when `user` cannot even see the tenant, NotPermitted when they may
    see but not `action` (e.g. a viewer changing something)."""
    if user is None:
        return  # the worker or a management command acting as the system
    if not getattr(user, "is_authenticated", False):
        raise NotPermitted("Sign in first.")
    if not user.can("view", tenant_id):
        raise NotFound(f"No such {what}.")
    if action != "view" and not user.can(action, tenant_id):
        raise NotPermitted(f"Your role in this team cannot change this {what}; viewers only read.")


def require_platform(user, *, doing: str) -> None:
    """Refuse (403) anyone but an active platform engineer; `None` is the system."""
    if user is None:
        return
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False) \
            or not getattr(user, "is_platform", False):
        raise NotPermitted(f"Only platform engineers can {doing}.")
