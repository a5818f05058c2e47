"""Cost filters, shared by the costs pages, the CSV export and `GET /api/v1/costs/` (STYLE §5).

The querysets handed in are already scoped with `for_user`; a filter naming another team's
slug or model matches nothing rather than revealing anything.
"""

from __future__ import annotations

import django_filters

from apps.costs.models import CostAnomaly, CostRecord


class CostFilterSet(django_filters.FilterSet):
    """Which cost rows: team, model, environment and a day range (inclusive)."""

    tenant = django_filters.CharFilter(field_name="tenant__slug", max_length=40, help_text="Team slug.")
    model = django_filters.NumberFilter(field_name="model_id", min_value=1, max_value=2**31 - 1,
                                        help_text="Model id.")
    environment = django_filters.CharFilter(field_name="environment__name", max_length=40,
                                            help_text="Environment name, e.g. `production`.")
    start = django_filters.DateFilter(field_name="day", lookup_expr="gte",
                                      help_text="First day (YYYY-MM-DD, UTC); default 29 days before `end`.")
    end = django_filters.DateFilter(field_name="day", lookup_expr="lte",
                                    help_text="Last day, inclusive (YYYY-MM-DD, UTC); default today.")
    group_by = django_filters.CharFilter(method="keep", max_length=40,
                                         help_text="day | model | tenant | environment, or two joined by a comma.")

    class Meta:
        model = CostRecord
        fields: list[str] = []

    def keep(self, queryset, name, value):
        return queryset  # grouping is applied by the report, not as a row filter

    def report_filters(self) -> dict:
        data = self.form.cleaned_data
        return {"tenant": data.get("tenant") or None, "model": data.get("model") or None,
                "environment": data.get("environment") or None}


class AnomalyFilterSet(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug", max_length=40, help_text="Team slug.")
    model = django_filters.NumberFilter(field_name="model_id", min_value=1, max_value=2**31 - 1)
    since = django_filters.DateFilter(field_name="day", lookup_expr="gte", help_text="YYYY-MM-DD, inclusive.")

    class Meta:
        model = CostAnomaly
        fields: list[str] = []
