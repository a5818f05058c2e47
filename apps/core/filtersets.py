"""Audit log filters, shared by the audit page and `GET /api/v1/audit/` (STYLE §5).

The queryset handed in is already scoped with `for_user`, so a filter on another team's
slug simply matches nothing.
"""

from __future__ import annotations

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from apps.core.models import AuditEvent, AuditSource


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC before it reaches the database.

    PostgreSQL refuses offsets beyond ±15:59 ("time zone displacement out of range", a 500)
    that Python parses happily, e.g. `2026-01-01T00:00-23:08`; in UTC they are plain instants.
    """

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(UTC)
            except (OverflowError, ValueError):
                raise ValidationError("Date-time out of range.", code="invalid") from None
        return value


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """IsoDateTimeFilter through UtcIsoDateTimeField (see there)."""

    field_class = UtcIsoDateTimeField


class AuditFilterSet(django_filters.FilterSet):
    action = django_filters.CharFilter(
        method="filter_action", max_length=64,
        help_text="Exact action (e.g. `model.created`), or a prefix ending in a dot (`model.`).")
    tenant = django_filters.CharFilter(field_name="tenant__slug", max_length=40, help_text="Team slug.")
    actor = django_filters.CharFilter(field_name="actor_label", max_length=150,
                                      help_text="Username, or `worker` / `system`.")
    object_type = django_filters.CharFilter(max_length=64, help_text="e.g. `model`, `modelversion`, `apitoken`.")
    object_id = django_filters.CharFilter(max_length=64)
    source = django_filters.ChoiceFilter(choices=AuditSource.choices)
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte",
                                             help_text="ISO 8601 date-time, inclusive.")
    until = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt",
                                             help_text="ISO 8601 date-time, exclusive.")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_action(self, queryset, name, value):
        if value.endswith("."):
            return queryset.filter(action__startswith=value)
        return queryset.filter(action=value)
