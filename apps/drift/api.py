"""REST API of drift monitoring (SPEC §7):

- `POST /api/v1/drift/baselines/` (and `GET` to list them): a version's training sample;
- `POST /api/v1/drift/observations/`: a batch of production samples (stored as bucket counts);
- `GET /api/v1/drift/reports/?version=` (PSI per feature over time, severity), `POST` to compute
  one now, `GET /reports/{id}/`, `POST /reports/{id}/acknowledge/`;
- `GET, PATCH /api/v1/drift/policies/{model id}/`: thresholds and the high-drift action.

Thin: parse, call one service (apps.drift.services), render. Another team's version or report
is 404 (naming `version` in a body); a viewer writing is 403; nothing is stored on any error.
A body larger than SLIPWAY_DRIFT_MAX_BODY_BYTES is refused (413) before it is parsed.
"""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from apps.core.api import TenantScopedViewSetMixin
from apps.drift import services
from apps.drift.errors import DriftErrorCode
from apps.drift.filtersets import DriftReportFilterSet
from apps.drift.models import Baseline, DriftAction, DriftReport
from apps.drift.serializers import (
    AcknowledgeSerializer,
    BaselineInputSerializer,
    BaselineSerializer,
    ComputeSerializer,
    ObservationResultSerializer,
    PolicySerializer,
    PolicyUpdateSerializer,
    ReportSerializer,
    SampleSerializer,
)
from apps.registry.models import Model


def _refuse_huge_body(request) -> None:
    """A 10-million-value post is refused from its Content-Length, before JSON parsing."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = services.max_body_bytes()
    if length > limit:
        raise services.PayloadTooLarge([("features", DriftErrorCode.TOO_LARGE, (
            f"The body is {length / 2**20:.1f} MiB; a drift post takes at most {limit / 2**20:.1f} MiB "
            f"({services.max_values_per_field():,} values per feature, {services.max_values_total():,} in all). "
            "Send the sample in several posts."))])


def _sample(request, serializer_class):
    _refuse_huge_body(request)
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    version = services.get_version(request.user, data["version"])
    return version, data


class BaselineViewSet(TenantScopedViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Baselines of the caller's teams' versions; POST uploads (or replaces) one."""

    scoped_model = Baseline
    serializer_class = BaselineSerializer
    filter_backends: list = []

    def optimize_queryset(self, qs):
        qs = qs.select_related("version__model__tenant", "created_by")
        version = self.request.query_params.get("version")
        if version is not None:
            qs = qs.filter(version_id=int(version)) if version.isdigit() and len(version) < 19 else qs.none()
        return qs

    @extend_schema(request=BaselineInputSerializer, responses={201: BaselineSerializer})
    def create(self, request, *args, **kwargs):
        """Learn bucket edges and baseline counts from a training sample of a version."""
        version, data = _sample(request, BaselineInputSerializer)
        baseline = services.upload_baseline(version, actor=request.user, features=data["features"],
                                            predictions=data.get("predictions"), buckets=data.get("buckets", 10))
        baseline = self.optimize_queryset(Baseline.objects.all()).get(pk=baseline.pk)
        return Response(BaselineSerializer(baseline).data, status=status.HTTP_201_CREATED)


class ObservationViewSet(viewsets.GenericViewSet):
    """`POST /api/v1/drift/observations/`: production samples, added to the hour's bucket counts."""

    serializer_class = SampleSerializer

    @extend_schema(request=SampleSerializer, responses={201: ObservationResultSerializer})
    def create(self, request, *args, **kwargs):
        version, data = _sample(request, SampleSerializer)
        features, predictions = data["features"], data.get("predictions")
        window = services.record_observations(version, actor=request.user, features=features,
                                              predictions=predictions)
        accepted = max([len(v) for v in features.values() if isinstance(v, list)] + [len(predictions or [])])
        return Response({"version": version.pk, "window_start": window.window_start, "rows_in_window": window.rows,
                         "batches_in_window": window.batches, "accepted_rows": accepted},
                        status=status.HTTP_201_CREATED)


class ReportViewSet(TenantScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    viewsets.GenericViewSet):
    """Drift reports, newest first: PSI per feature and for predictions, severity, actions taken."""

    scoped_model = DriftReport
    serializer_class = ReportSerializer
    filterset_class = DriftReportFilterSet

    def optimize_queryset(self, qs):
        return qs.select_related("model__tenant", "version", "acknowledged_by").prefetch_related(
            Prefetch("actions", queryset=DriftAction.objects.order_by("created_at", "id")))

    @extend_schema(request=ComputeSerializer, responses={201: ReportSerializer})
    def create(self, request, *args, **kwargs):
        """Compute a report of a version now (the hourly run does this for every live version)."""
        serializer = ComputeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.get_version(request.user, serializer.validated_data["version"])
        report = services.compute_report(version, actor=request.user, trigger="manual")
        report = self.optimize_queryset(DriftReport.objects.all()).get(pk=report.pk)
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AcknowledgeSerializer, responses=ReportSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """A person has seen this drift: production rollouts of the version are allowed again."""
        report = self.get_object()
        serializer = AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.acknowledge(report, actor=request.user, note=serializer.validated_data.get("note", ""))
        report = self.optimize_queryset(DriftReport.objects.all()).get(pk=report.pk)
        return Response(ReportSerializer(report).data)


@extend_schema_view(
    retrieve=extend_schema(parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                                                        description="The model's id.")]),
    partial_update=extend_schema(parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                                                              description="The model's id.")]),
)
class PolicyViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`/api/v1/drift/policies/{model id}/`: the model's thresholds and high-drift action."""

    serializer_class = PolicySerializer
    filter_backends: list = []
    http_method_names = ["get", "patch", "head", "options"]

    def get_model(self) -> Model:
        visible = Model.objects.for_user(self.request.user, "view")
        pk = str(self.kwargs.get("pk", ""))
        return get_object_or_404(visible, pk=int(pk) if pk.isdigit() and len(pk) < 19 else 0)

    def retrieve(self, request, *args, **kwargs):
        return Response(PolicySerializer(services.policy_for(self.get_model())).data)

    @extend_schema(request=PolicyUpdateSerializer, responses=PolicySerializer)
    def partial_update(self, request, *args, **kwargs):
        model = self.get_model()
        serializer = PolicyUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        policy = services.update_policy(model, actor=request.user, **serializer.validated_data)
        return Response(PolicySerializer(policy).data)


def register(router) -> list:
    router.register("drift/baselines", BaselineViewSet, basename="drift-baseline")
    router.register("drift/observations", ObservationViewSet, basename="drift-observation")
    router.register("drift/reports", ReportViewSet, basename="drift-report")
    router.register("drift/policies", PolicyViewSet, basename="drift-policy")
    return []

