"""Model list filters, shared by the models page and `GET /api/v1/models/` (STYLE §5).

The queryset is already scoped with `for_user`; filtering on another team's slug matches
nothing rather than revealing anything.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q

from apps.registry.models import Model


class ModelFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", max_length=100,
                                  help_text="Words found in the name or description (case-insensitive).")
    tenant = django_filters.CharFilter(field_name="tenant__slug", max_length=40, help_text="Team slug.")

    class Meta:
        model = Model
        fields: list[str] = []

    def search(self, queryset, name, value):
        for word in value.split()[:5]:
            queryset = queryset.filter(Q(name__icontains=word) | Q(description__icontains=word))
        return queryset
