"""Page-number pagination: `?page=`, `?page_size=` (≤ 200); answers count, next, previous, results.

Kept apart from apps.core.api because DRF imports DEFAULT_PAGINATION_CLASS while its
own generics module loads; importing viewsets from here would be circular.
"""

from __future__ import annotations

from functools import cached_property, partial

from django.core.paginator import Paginator as DjangoPaginator
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class CountingPaginator(DjangoPaginator):
    """A Django paginator that may count a different (cheaper) queryset than it slices.

    A page read with `.values("tenant__slug", ...)` carries joins that COUNT(*) does not
    need; counting the unjoined queryset keeps the count an index scan.
    """

    def __init__(self, object_list, per_page, *, count_queryset=None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self._count_queryset = count_queryset

    @cached_property
    def count(self) -> int:
        if self._count_queryset is not None:
            return self._count_queryset.count()
        return super().count


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = CountingPaginator

    def paginate_queryset(self, queryset, request, view=None, *, count_queryset=None):
        """As DRF's, plus `count_queryset`: what to count when it is cheaper than `queryset`."""
        if count_queryset is not None:
            self.django_paginator_class = partial(CountingPaginator, count_queryset=count_queryset)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return Response({
            "count": self.page.paginator.count,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        })

    def get_paginated_response_schema(self, schema):
        return super().get_paginated_response_schema(schema)
