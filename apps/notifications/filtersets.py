"""Delivery log filters, shared by the delivery log page and `GET /api/v1/notifications/deliveries/` (STYLE §5).

The queryset handed in is already scoped with `for_user`: another team's slug matches nothing.
"""

from __future__ import annotations

import django_filters

from apps.core.filtersets import UtcIsoDateTimeFilter
from apps.notifications.choices import DeliveryStatus, Event
from apps.notifications.models import Delivery


class DeliveryFilterSet(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug", max_length=40, help_text="Team slug.")
    destination = django_filters.NumberFilter(field_name="destination_id", min_value=1, max_value=2**62,
                                              help_text="Destination id.")
    event = django_filters.ChoiceFilter(choices=Event.choices)
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte",
                                             help_text="ISO 8601 date-time, inclusive.")
    until = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt",
                                             help_text="ISO 8601 date-time, exclusive.")

    class Meta:
        model = Delivery
        fields: list[str] = []
