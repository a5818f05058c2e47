"""Audit log filters, shared by the audit page and `GET /api/v1/audit/` (STYLE §5).

The queryset handed in is already scoped with `for_user`, so a filter on another team's
slug simply matches nothing.
"""

from __future__ import annotations

import django_filters

from apps.core.models import AuditEvent, AuditSource


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
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte",
                                             help_text="ISO 8601 date-time, inclusive.")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt",
                                             help_text="ISO 8601 date-time, exclusive.")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_action(self, queryset, name, value):
        if value.endswith("."):
            return queryset.filter(action__startswith=value)
        return queryset.filter(action=value)
