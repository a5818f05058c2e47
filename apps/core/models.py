"""The append-only audit log.

Rows are written by `apps.core.audit.record` and never changed: the ORM refuses
save-on-existing and delete, and on PostgreSQL a trigger refuses UPDATE and DELETE
(migration 0003; on SQLite only UPDATE), so not even a bug or a shell session can rewrite history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.scoping import TenantScopedQuerySet


class AuditSource(models.TextChoices):
    UI = "ui", "Web UI"
    API = "api", "REST API"
    WORKER = "worker", "Worker"
    CLI = "cli", "Command line"
    SYSTEM = "system", "System"


class AuditImmutable(Exception):
    """Raised when code tries to change or delete an audit event."""


class AuditEventQuerySet(TenantScopedQuerySet):
    def update(self, **kwargs):  # noqa: D102
        raise AuditImmutable("Audit events are append-only.")

    def delete(self):  # noqa: D102
        raise AuditImmutable("Audit events are append-only.")

    def for_user(self, user, action: str = "view"):
        """Members see their teams' events and their own security events (tenant-less).

        Nobody may change an event, so `action="change"` is always empty.
        """
        if user is None or not user.is_authenticated or not user.is_active or action != "view":
            return self.none()
        if getattr(user, "is_platform", False):
            return self
        return self.filter(
            models.Q(tenant_id__in=user.tenant_ids("view"))
            | models.Q(tenant__isnull=True, actor_id=user.pk)
        )


class AuditEvent(models.Model):
    """Who did what to which object, when, from where, with the state before and after."""

    tenant_path = "tenant"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No database-level foreign keys: deleting a user or a team must never need to
    # touch (UPDATE or DELETE) an audit row.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    actor_label = models.CharField(max_length=150, help_text="Username, or 'worker' / 'system'.")
    tenant = models.ForeignKey("tenancy.Tenant", null=True, blank=True, on_delete=models.DO_NOTHING,
                               db_constraint=False, related_name="+")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=AuditSource.choices, default=AuditSource.SYSTEM)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AuditImmutable("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutable("Audit events are append-only.")
