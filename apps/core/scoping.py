"""Tenant scoping, enforced once (STYLE §6).

Every tenant-owned model declares `tenant_path` (the lookup from the model to its
Tenant id, e.g. "model__tenant" for ModelVersion) and uses `TenantScopedQuerySet`.
`for_user(user, action)` is applied in exactly two places: the UI view mixin and the
API viewset base. Another team's object is simply not in the queryset, so it answers 404.
"""

from __future__ import annotations

from django.db import models


class TenantScopedQuerySet(models.QuerySet):
    def _tenant_lookup(self) -> str:
        path = getattr(self.model, "tenant_path", None)
        if path is None:
            raise TypeError(f"{self.model.__name__} has no tenant_path")
        return path if path == "id" or path.endswith("_id") else f"{path}_id"

    def for_user(self, user, action: str = "view") -> TenantScopedQuerySet:
        """What `user` may see (action="view") or change (action="change")."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if getattr(user, "is_platform", False):
            return self
        return self.filter(**{f"{self._tenant_lookup()}__in": user.tenant_ids(action)})

    def for_tenant(self, tenant_id: int) -> TenantScopedQuerySet:
        return self.filter(**{self._tenant_lookup(): tenant_id})


def tenant_id_of(obj) -> int:
    """Follow `tenant_path` on an instance to its tenant id."""
    path = obj.tenant_path
    if path == "id":
        return obj.pk
    current = obj
    parts = path.split("__")
    for part in parts[:-1]:
        current = getattr(current, part)
    return getattr(current, f"{parts[-1]}_id")
