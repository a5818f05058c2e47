"""Page-number pagination: `?page=`, `?page_size=` (≤ 200); answers count, next, previous, results.

Kept apart from apps.core.api because DRF imports DEFAULT_PAGINATION_CLASS while its
own generics module loads; importing viewsets from here would be circular.
"""

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response(self, data):
        return Response({
            "count": self.page.paginator.count,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        })

    def get_paginated_response_schema(self, schema):
        return super().get_paginated_response_schema(schema)
