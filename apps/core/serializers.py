"""Serializer building blocks shared by every app's API, and the audit event serializer.

Serializers validate *shape* (types, lengths, NUL bytes); the services validate rules.
Output serializers declare their fields (so the OpenAPI schema is exact) but render
with a hand-written `to_representation`: the list endpoints render thousands of rows a
second and DRF's per-field machinery is most of a list request's CPU time.
"""

from __future__ import annotations

from datetime import datetime

from rest_framework import serializers

from apps.core.models import AuditEvent


def iso(value: datetime | None) -> str | None:
    """A datetime as DRF renders it by default (ISO 8601, UTC as 'Z')."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text.

    DRF's CharField accepts `{"name": 42}` as "42"; a JSON client sending the wrong type
    has a bug, and saying so early beats storing a surprise.
    """

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false: "yes", 1 or "on" are refused rather than guessed."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class RefuseUnknownFieldsMixin:
    """Refuse body keys the serializer does not know (typos, mass assignment).

    `ignored_fields` are read-only output fields a client may send back unchanged
    (e.g. a PATCH of a previously fetched object): they are dropped, never applied.
    """

    ignored_fields: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields) - set(self.ignored_fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [serializers.ErrorDetail("This field cannot be set.", code="unknown_field")]
                     for name in unknown})
        return super().to_internal_value(data)


class AuditEventSerializer(serializers.Serializer):
    """One audit event as the API shows it (read-only). `ip_address` only for platform engineers."""

    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(help_text="Username, or 'worker' / 'system'.")
    tenant = serializers.CharField(allow_null=True, help_text="Team slug; null for account-level events.")
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    object_repr = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    source = serializers.ChoiceField(choices=AuditEvent._meta.get_field("source").choices)
    ip_address = serializers.IPAddressField(allow_null=True, required=False)

    def to_representation(self, event: AuditEvent) -> dict:
        data = {
            "id": event.pk,
            "created_at": iso(event.created_at),
            "actor": event.actor_label,
            "tenant": event.tenant.slug if event.tenant_id and event.tenant else None,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "object_repr": event.object_repr,
            "before": event.before,
            "after": event.after,
            "source": event.source,
        }
        request = self.context.get("request")
        if request is not None and getattr(request.user, "is_platform", False):
            data["ip_address"] = event.ip_address
        return data
