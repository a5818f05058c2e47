"""REST API of the registry: models, their versions, MLflow import and sync.

Thin: parse, call one service (apps.registry.services), render. Tenancy comes from the
scoped querysets (other team → 404); write permission (viewer → 403) from the services.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from apps.core.api import TenantScopedViewSetMixin, no_content
from apps.readiness.models import ChecklistItem
from apps.registry import services
from apps.registry.filtersets import ModelFilterSet
from apps.registry.models import Model, ModelVersion
from apps.registry.serializers import (
    LIST_VALUES,
    ImportVersionSerializer,
    ModelCreateSerializer,
    ModelDetailSerializer,
    ModelSerializer,
    ModelUpdateSerializer,
    VersionDetailSerializer,
    VersionSerializer,
    model_row,
)

# Columns the models list reads: .only() keeps wide text columns of related rows out.
MODEL_COLUMNS = ("id", "tenant_id", "name", "description", "mlflow_name", "owner", "oncall", "sla_p99_ms",
                 "primary_metric", "primary_metric_floor", "higher_is_better", "created_by_id", "created_at",
                 "updated_at", "tenant__slug", "created_by__username")


def checklist_prefetch() -> Prefetch:
    """The items a readiness summary needs, for a whole page of versions in one query."""
    return Prefetch("checklist", queryset=ChecklistItem.objects.select_related("definition").only(
        "id", "version_id", "key", "status", "detail", "definition__title", "definition__kind"))


def versions_queryset():
    return ModelVersion.objects.select_related("imported_by").prefetch_related(checklist_prefetch())


class ModelViewSet(TenantScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                   mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Models of the caller's teams (all teams for platform engineers)."""

    scoped_model = Model
    serializer_class = ModelSerializer
    filterset_class = ModelFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def optimize_queryset(self, qs):
        return qs.select_related("tenant", "created_by").only(*MODEL_COLUMNS)

    def list(self, request, *args, **kwargs):
        """Models, 50 a page: two queries (count, page) whatever the number of rows."""
        # Not get_queryset(): .values() replaces its select_related()/only(), which cost clones.
        filtered = self.filter_queryset(Model.objects.for_user(request.user, "view"))
        page = self.paginator.paginate_queryset(filtered.values(*LIST_VALUES), request, self,
                                                count_queryset=filtered)
        return self.paginator.get_paginated_response([model_row(row) for row in page])

    @extend_schema(responses=ModelDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        """One model, with `live`: which version is live in which environment, since when."""
        return Response(ModelDetailSerializer(self.get_object()).data)

    @extend_schema(request=ModelCreateSerializer, responses={201: ModelSerializer})
    def create(self, request, *args, **kwargs):
        """Register a model in a team the caller may change."""
        serializer = ModelCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        tenant = fields.pop("tenant")
        model = services.create_model(tenant, actor=request.user, **fields)
        return Response(ModelSerializer(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ModelUpdateSerializer, responses=ModelSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Change any editable field; the audit event records before and after."""
        model = self.get_object()
        serializer = ModelUpdateSerializer(data=request.data, partial=True, context={"request": request,
                                                                                    "model": model})
        serializer.is_valid(raise_exception=True)
        model = services.update_model(model, actor=request.user, **serializer.validated_data)
        return Response(ModelSerializer(model).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        """Delete a model and its versions (refused while a deployment still uses it)."""
        services.delete_model(self.get_object(), actor=request.user)
        return no_content()

    @extend_schema(request=None, filters=False, responses=inline_serializer(
        "SyncResult", {"count": serializers.IntegerField(), "imported": VersionSerializer(many=True)}))
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Import every MLflow version of the model that Slipway does not have yet."""
        model = self.get_object()
        imported = services.sync_versions(model, actor=request.user)
        fresh = list(versions_queryset().filter(pk__in=[v.pk for v in imported]))
        return Response({"count": len(fresh), "imported": VersionSerializer(fresh, many=True).data})


MODEL_PK = OpenApiParameter("model_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Model id.")


@extend_schema(parameters=[MODEL_PK])
class ModelVersionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`/api/v1/models/{id}/versions/`: the versions of one model; POST imports one from MLflow."""

    serializer_class = VersionSerializer
    filter_backends: list = []

    def get_model(self) -> Model:
        if not hasattr(self, "_model"):
            visible = Model.objects.for_user(self.request.user, "view").select_related("tenant")
            self._model = get_object_or_404(visible, pk=self.kwargs["model_pk"])
        return self._model

    def get_queryset(self):
        return versions_queryset().filter(model=self.get_model())

    @extend_schema(request=ImportVersionSerializer, responses={201: VersionDetailSerializer})
    def create(self, request, *args, **kwargs):
        """Import one version from the MLflow registry (404 when MLflow lacks it, 503 when
        MLflow does not answer, 409 when it is imported already; nothing written then)."""
        model = self.get_model()
        serializer = ImportVersionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.import_version(model, actor=request.user,
                                          mlflow_version=serializer.validated_data["mlflow_version"])
        version = versions_queryset().select_related("model__tenant").get(pk=version.pk)
        return Response(VersionDetailSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionViewSet(TenantScopedViewSetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`GET /api/v1/versions/{id}/`: metadata, metrics, checklist summary, `ready`."""

    scoped_model = ModelVersion
    serializer_class = VersionDetailSerializer

    def optimize_queryset(self, qs):
        return qs.select_related("model__tenant", "imported_by").prefetch_related(checklist_prefetch())


def register(router) -> list:
    router.register("models", ModelViewSet, basename="model")
    router.register("versions", VersionViewSet, basename="version")
    return [
        path("models/<str:model_pk>/versions/", ModelVersionViewSet.as_view({"get": "list", "post": "create"}),
             name="model-version-list"),
    ]
