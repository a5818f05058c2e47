"""Drift report filters, shared by `GET /api/v1/drift/reports/` and the drift pages (STYLE §5)."""

from __future__ import annotations

import django_filters

from apps.core.filtersets import UtcIsoDateTimeFilter
from apps.drift.choices import Severity
from apps.drift.models import DriftReport


class DriftReportFilterSet(django_filters.FilterSet):
    version = django_filters.NumberFilter(field_name="version_id", min_value=1, max_value=2**62,
                                          help_text="Model version id.")
    model = django_filters.NumberFilter(field_name="model_id", min_value=1, max_value=2**62, help_text="Model id.")
    tenant = django_filters.CharFilter(field_name="model__tenant__slug", max_length=40, help_text="Team slug.")
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = DriftReport
        fields: list[str] = []
