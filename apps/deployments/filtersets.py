"""Deployment and instance-catalog filters, shared by the pages and the API (STYLE §5).

The deployments queryset handed in is already scoped with `for_user`: a filter on another
team's slug or model id matches nothing rather than revealing anything. Ids are bounded
integers (a 30-digit id is refused as a field error, never sent to the database).
"""

from __future__ import annotations

import django_filters
from django import forms

from apps.deployments.choices import DeploymentStatus
from apps.deployments.models import Deployment, InstanceType

MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A positive whole-number id (NumberFilter alone accepts decimals such as 1.5)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StatusInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """`?status=live` or a comma list `?status=queued,progressing,paused`; each must be a status."""


class DeploymentFilterSet(django_filters.FilterSet):
    model = IdFilter(field_name="model_id", help_text="Model id.")
    version = IdFilter(field_name="version_id", help_text="Model version id.")
    environment = django_filters.CharFilter(field_name="environment__name", max_length=40,
                                            help_text="Environment name, e.g. `production`.")
    tenant = django_filters.CharFilter(field_name="tenant__slug", max_length=40, help_text="Team slug.")
    status = StatusInFilter(choices=DeploymentStatus.choices, help_text=(
        "One status or a comma-separated list, e.g. `queued,progressing,paused`."))

    class Meta:
        model = Deployment
        fields: list[str] = []


class InstanceTypeFilterSet(django_filters.FilterSet):
    gpu = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_gpu",
                                      help_text="`true`: GPU instance types only; `false`: CPU only.")
    family = django_filters.CharFilter(max_length=20, help_text="Instance family, e.g. `g5`.")

    class Meta:
        model = InstanceType
        fields: list[str] = []

    def filter_gpu(self, queryset, name, value):
        return queryset.filter(gpus__gt=0) if value == "true" else queryset.filter(gpus=0)
