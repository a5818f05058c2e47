"""Runbooks: Markdown per model (team-owned) and platform-wide ones, every save kept."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.scoping import TenantScopedQuerySet


class RunbookQuerySet(TenantScopedQuerySet):
    """Team runbooks follow the team; platform-wide ones (no tenant) everyone signed in reads
    and only platform engineers change."""

    def for_user(self, user, action: str = "view"):
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if getattr(user, "is_platform", False):
            return self
        lookup = self._tenant_lookup()
        q = Q(**{f"{lookup}__in": user.tenant_ids(action)})
        if action == "view":
            q |= Q(**{f"{lookup}__isnull": True})
        return self.filter(q)


class Runbook(models.Model):
    """The current written Markdown of one runbook; `revision` counts its saves.

    A model runbook has `model` and `tenant`; a platform-wide runbook has neither and a
    unique `slug`. The generated sections (endpoints, SLA, owners, gates, roll back) are not
    stored: they are rendered from the model's data every time, so they never go stale.
    """

    tenant_path = "tenant"

    tenant = models.ForeignKey("tenancy.Tenant", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="runbooks")
    model = models.OneToOneField("registry.Model", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="runbook")
    slug = models.SlugField(max_length=80, blank=True)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    revision = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RunbookQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["slug"], condition=Q(model__isnull=True), name="uniq_platform_runbook_slug"),
            models.CheckConstraint(condition=Q(model__isnull=True, tenant__isnull=True)
                                   | Q(model__isnull=False, tenant__isnull=False), name="runbook_model_has_tenant"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_platform(self) -> bool:
        return self.model_id is None


class RunbookRevision(models.Model):
    """One save of a runbook: its full written Markdown, who saved it and why. Never edited."""

    tenant_path = "runbook__tenant"

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    summary = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RunbookQuerySet.as_manager()

    class Meta:
        ordering = ["runbook_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["runbook", "number"], name="uniq_runbook_revision")]

    def __str__(self) -> str:
        return f"{self.runbook} r{self.number}"
