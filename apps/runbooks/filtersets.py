"""Runbook index filter (the runbooks page)."""

from __future__ import annotations

import django_filters

from apps.registry.models import Model


class RunbookIndexFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=100,
                                  help_text="Part of the model name.")
    tenant = django_filters.CharFilter(field_name="tenant__slug", max_length=40, help_text="Team slug.")

    class Meta:
        model = Model
        fields: list[str] = []
