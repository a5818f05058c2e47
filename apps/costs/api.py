"""REST API of costs: grouped cost rows (JSON and CSV), month-to-date budgets, anomalies, advice.

Read-only and tenant-scoped: every queryset is `for_user(request.user, "view")`, so another
team's costs are simply absent (rows, totals, CSV alike).
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import TenantScopedViewSetMixin
from apps.core.pagination import Pagination
from apps.costs import exports, recommendations, reports
from apps.costs.filtersets import AnomalyFilterSet, CostFilterSet
from apps.costs.models import ActualCost, BudgetAlert, CostAnomaly, CostRecord
from apps.costs.serializers import (
    BudgetSerializer,
    CostAnomalySerializer,
    CostListSerializer,
    RecommendationSerializer,
    budget_json,
    row_json,
)
from apps.tenancy.models import Tenant

PAGE = [OpenApiParameter("page", OpenApiTypes.INT, description="Page number."),
        OpenApiParameter("page_size", OpenApiTypes.INT, description="Rows per page (≤ 200).")]


class CostListView(APIView):
    """`GET /api/v1/costs/`: USD, GPU-hours, requests and USD per 1,000 predictions, grouped.

    `group_by` = day | model | tenant | environment (or two joined by a comma, e.g.
    `day,tenant`); `start`/`end` inclusive days (default: the last 30 days). `actual_usd`
    is the AWS Cost Explorer figure where ingested. `usd_per_1k` is null with
    `usd_per_1k_note` "no traffic" when nothing was served — never infinity.
    """

    filterset_class = CostFilterSet

    @extend_schema(parameters=PAGE, filters=True, responses=CostListSerializer)
    def get(self, request):
        report = reports.run_report(CostRecord.objects.for_user(request.user, "view"),
                                    ActualCost.objects.for_user(request.user, "view"), request.query_params)
        paginator = Pagination()
        page = paginator.paginate_queryset(report.rows, request, view=self)
        response = paginator.get_paginated_response([row_json(r) for r in page])
        response.data.update({"group_by": report.group_by, "start": report.start.isoformat(),
                              "end": report.end.isoformat(), "totals": row_json(report.totals)})
        return response


class CostExportView(APIView):
    """`GET /api/v1/costs/export/`: the same rows as `GET /api/v1/costs/`, all of them, as CSV."""

    filterset_class = CostFilterSet

    @extend_schema(filters=True, responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)})
    def get(self, request):
        report = reports.run_report(CostRecord.objects.for_user(request.user, "view"),
                                    ActualCost.objects.for_user(request.user, "view"), request.query_params)
        return exports.csv_response(report)


class BudgetView(APIView):
    """`GET /api/v1/costs/budget/`: each visible team's month-to-date cost against its budget,
    with the end-of-month forecast and the thresholds (50/80/100 %) reached this month."""

    @extend_schema(responses=BudgetSerializer(many=True))
    def get(self, request):
        tenants = Tenant.objects.for_user(request.user, "view")
        summaries = reports.month_to_date(tenants)
        alerts: dict[int, list] = {}
        if summaries:
            for alert in BudgetAlert.objects.filter(tenant__in=tenants, month=summaries[0].month).order_by("threshold"):
                alerts.setdefault(alert.tenant_id, []).append(alert)
        return Response([budget_json(s, alerts.get(s.tenant.pk, [])) for s in summaries])


class RecommendationView(APIView):
    """`GET /api/v1/costs/recommendations/`: savings advice (right-size, staging to zero, spot,
    batching) with the estimated monthly USD and the figures each is based on."""

    @extend_schema(parameters=[OpenApiParameter("tenant", OpenApiTypes.STR, description="Team slug.")],
                   responses=RecommendationSerializer(many=True))
    def get(self, request):
        records = CostRecord.objects.for_user(request.user, "view")
        tenant = request.query_params.get("tenant")
        if tenant:
            records = records.filter(tenant__slug=str(tenant)[:40])
        return Response([r.as_dict() for r in recommendations.recommend(records)])


class CostAnomalyViewSet(TenantScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         viewsets.GenericViewSet):
    """`GET /api/v1/costs/anomalies/`: days more than 20 % above the model's trailing 7-day mean,
    with the rollouts and scaling changes of that model in the window."""

    scoped_model = CostAnomaly
    serializer_class = CostAnomalySerializer
    filterset_class = AnomalyFilterSet

    def optimize_queryset(self, qs):
        return qs.select_related("tenant", "model")


def register(router) -> list:
    return [
        path("costs/", CostListView.as_view(), name="cost-list"),
        path("costs/export/", CostExportView.as_view(), name="cost-export"),
        path("costs/budget/", BudgetView.as_view(), name="cost-budget"),
        path("costs/recommendations/", RecommendationView.as_view(), name="cost-recommendations"),
        path("costs/anomalies/", CostAnomalyViewSet.as_view({"get": "list"}), name="cost-anomaly-list"),
        path("costs/anomalies/<int:pk>/", CostAnomalyViewSet.as_view({"get": "retrieve"}),
             name="cost-anomaly-detail"),
    ]
