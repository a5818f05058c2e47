"""REST API of runbooks: `GET, PUT /api/v1/models/{id}/runbook/`, `GET .../runbook/history/`.

Scoping: the model is looked up with `for_user(user, "view")` (other team → 404); the save
service refuses viewers (403). GET answers the template (revision 0) before the first save.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import Pagination
from apps.registry.models import Model
from apps.runbooks import services
from apps.runbooks.models import Runbook
from apps.runbooks.serializers import RevisionSerializer, RunbookSaveSerializer, RunbookSerializer, runbook_json

MODEL_PK = OpenApiParameter("model_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="Model id.")


class _ModelRunbook(APIView):
    def get_model(self) -> Model:
        visible = Model.objects.for_user(self.request.user, "view").select_related("tenant")
        return get_object_or_404(visible, pk=self.kwargs["model_pk"])


@extend_schema(parameters=[MODEL_PK])
class RunbookView(_ModelRunbook):
    """The model's runbook: written Markdown (`body`), the generated sections, the whole
    document as Markdown and as sanitised HTML, and which required sections are missing."""

    @extend_schema(responses=RunbookSerializer)
    def get(self, request, model_pk):
        model = self.get_model()
        return Response(runbook_json(model, Runbook.objects.filter(model=model).first()))

    @extend_schema(request=RunbookSaveSerializer, responses=RunbookSerializer)
    def put(self, request, model_pk):
        """Save `body` as a new revision. Send `expected_revision` (the revision you edited) to
        be refused with 409 instead of overwriting somebody's save made in between."""
        model = self.get_model()
        serializer = RunbookSaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        book = services.save_runbook(model, actor=request.user, body=data["body"], summary=data.get("summary", ""),
                                     expected_revision=data.get("expected_revision"))
        return Response(runbook_json(model, book))


@extend_schema(parameters=[MODEL_PK])
class RunbookHistoryView(_ModelRunbook):
    """Every saved revision of the model's runbook, newest first (full text of each)."""

    # Declared so the schema shows the paginated envelope ({count, next, previous, results})
    # that get() answers with, not a bare array.
    pagination_class = Pagination

    @extend_schema(responses=RevisionSerializer(many=True),
                   parameters=[OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size",
                                                                                            OpenApiTypes.INT)])
    def get(self, request, model_pk):
        model = self.get_model()
        book = Runbook.objects.filter(model=model).first()
        revisions = book.revisions.select_related("created_by").order_by("-number") if book else []
        paginator = Pagination()
        page = paginator.paginate_queryset(revisions, request, view=self)
        return paginator.get_paginated_response(RevisionSerializer(page, many=True).data)


def register(router) -> list:
    from django.urls import path

    return [
        path("models/<int:model_pk>/runbook/", RunbookView.as_view(), name="model-runbook"),
        path("models/<int:model_pk>/runbook/history/", RunbookHistoryView.as_view(), name="model-runbook-history"),
    ]
