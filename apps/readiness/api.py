"""REST API of the readiness checklist: list items, attest or waive one, re-evaluate.

Routes hang under a version: `/api/v1/versions/{id}/checklist/...`. The version is looked
up in the caller's scope (other team → 404); attest/waive rules are the services'.
"""

from __future__ import annotations

import re

from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from kombu.exceptions import OperationalError
from rest_framework import status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from apps.core.access import require
from apps.core.errors import NotFound, ServiceUnavailable
from apps.readiness import services
from apps.readiness.choices import ItemStatus
from apps.readiness.errors import ReadinessErrorCode
from apps.readiness.models import ChecklistItem
from apps.readiness.serializers import (
    ChecklistDecisionSerializer,
    ChecklistItemSerializer,
    EvaluationQueuedSerializer,
)
from apps.registry.models import ModelVersion

KEY = re.compile(r"[a-z0-9_]{1,50}")

VERSION_PK = OpenApiParameter("version_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Version id.")
ITEM_KEY = OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH,
                            description="Checklist item key, e.g. `bias_review`.")


@extend_schema(parameters=[VERSION_PK])
class ChecklistViewSet(viewsets.GenericViewSet):
    serializer_class = ChecklistItemSerializer
    filter_backends: list = []

    def get_version(self) -> ModelVersion:
        if not hasattr(self, "_version"):
            visible = ModelVersion.objects.for_user(self.request.user, "view").select_related("model__tenant")
            self._version = get_object_or_404(visible, pk=self.kwargs["version_pk"])
        return self._version

    def get_queryset(self):
        return ChecklistItem.objects.filter(version=self.get_version()).select_related("definition", "decided_by")

    def get_item(self) -> ChecklistItem:
        key = self.kwargs["key"]
        if not KEY.fullmatch(key):  # checked before the database sees it (NUL bytes, length)
            raise NotFound(f"The checklist has no item '{key[:50]}'.", code=ReadinessErrorCode.UNKNOWN_ITEM,
                           field="key")
        return services.get_item(self.get_version(), key)

    def list(self, request, *args, **kwargs):
        """The version's checklist items in their display order."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(parameters=[ITEM_KEY])
    def retrieve(self, request, *args, **kwargs):
        """One checklist item."""
        return Response(self.get_serializer(self.get_item()).data)

    @extend_schema(parameters=[ITEM_KEY], request=ChecklistDecisionSerializer, responses=ChecklistItemSerializer)
    def decide(self, request, *args, **kwargs):
        """Attest an item (`status` pass|fail, `evidence`) or waive it (`status` waived,
        `reason`; platform engineers only)."""
        item = self.get_item()
        serializer = ChecklistDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["status"] == ItemStatus.WAIVED:
            item = services.waive(item, actor=request.user, reason=data.get("reason", ""))
        else:
            item = services.attest(item, actor=request.user, status=data["status"],
                                   evidence=data.get("evidence", ""))
        item = self.get_queryset().get(pk=item.pk)
        return Response(self.get_serializer(item).data)

    @extend_schema(request=None, responses={202: EvaluationQueuedSerializer})
    def evaluate(self, request, *args, **kwargs):
        """Queue a re-run of the automatic items; answers 202 with where to read them."""
        from worker.tasks import evaluate_checklist

        version = self.get_version()
        # The worker evaluates as the system, so the caller's right to ask is checked here.
        require(request.user, "change", version.model.tenant_id, what="version")
        try:
            evaluate_checklist.delay(version.pk)
        except OperationalError as exc:  # broker down: say so instead of a 500
            raise ServiceUnavailable("The task queue did not accept the request; try again shortly.") from exc
        url = request.build_absolute_uri(reverse("checklist-list", kwargs={"version_pk": version.pk}))
        return Response({"status": "queued", "checklist": url}, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": url})


def register(router) -> list:
    return [
        path("versions/<str:version_pk>/checklist/", ChecklistViewSet.as_view({"get": "list"}),
             name="checklist-list"),
        path("versions/<str:version_pk>/checklist/evaluate/", ChecklistViewSet.as_view({"post": "evaluate"}),
             name="checklist-evaluate"),
        path("versions/<str:version_pk>/checklist/<str:key>/",
             ChecklistViewSet.as_view({"get": "retrieve", "post": "decide"}), name="checklist-detail"),
    ]
