"""The ML readiness checklist: definitions (what is checked) and items (per version)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.scoping import TenantScopedQuerySet
from apps.readiness.choices import SATISFIED, ItemKind, ItemStatus


class ChecklistDefinition(models.Model):
    """One line of the checklist every version gets. The ten defaults come from a data
    migration; platform engineers may add more (they are attested)."""

    key = models.SlugField(max_length=50, unique=True)
    title = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ItemKind.choices, default=ItemKind.ATTESTED)
    description = models.TextField(help_text="What makes this item pass.")
    position = models.PositiveIntegerField(default=100)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.key


class ChecklistItem(models.Model):
    """The state of one checklist line for one model version.

    `detail` says in a sentence why it has its status (or what will satisfy it);
    `evidence` is what a person attested; `decided_by/at` who and when.
    """

    tenant_path = "version__model__tenant"

    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="checklist")
    definition = models.ForeignKey(ChecklistDefinition, on_delete=models.PROTECT, related_name="items")
    key = models.SlugField(max_length=50)
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    detail = models.TextField(blank=True)
    evidence = models.TextField(blank=True, max_length=5000)
    waiver_reason = models.TextField(blank=True, max_length=5000)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["version_id", "definition__position", "key"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="uniq_item_per_version")]

    def __str__(self) -> str:
        return f"{self.key}: {self.status}"

    @property
    def satisfied(self) -> bool:
        return self.status in SATISFIED
