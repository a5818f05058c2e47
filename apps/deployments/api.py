"""REST API of deployments: environments, the instance catalog, requests, plans, approvals
and rollout controls (SPEC §7).

Thin: parse, call one service (apps.deployments.services), render. Tenancy comes from the
scoped queryset (another team's deployment → 404 on every route); roles and transitions
are the services' (viewer → 403, requester approving → 403 self_approval, illegal move →
409 invalid_transition). The rollout page's buttons call the same service functions.
"""

from __future__ import annotations

import re

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.errors import NotFound
from apps.deployments import services
from apps.deployments.filtersets import DeploymentFilterSet, InstanceTypeFilterSet
from apps.deployments.models import Analysis, Approval, Deployment, Environment, InstanceType, RolloutEvent
from apps.deployments.serializers import (
    CommentSerializer,
    DeploymentDetailSerializer,
    DeploymentRequestSerializer,
    DeploymentSerializer,
    EnvironmentSerializer,
    InstanceTypeSerializer,
    PlanSerializer,
    ProblemSerializer,
    ReasonSerializer,
)
from apps.registry.models import ModelVersion

ENV_NAME = re.compile(r"[a-z0-9_-]{1,40}")

PROBLEM = OpenApiResponse(ProblemSerializer, description="RFC 9457 problem detail (`application/problem+json`).")
REQUEST_EXAMPLE = OpenApiExample("staging canary", request_only=True, value={
    "version": 42, "environment": "staging",
    "config": {"instance_type": "g5.xlarge", "gpus_per_replica": 1, "min_replicas": 2, "max_replicas": 4,
               "spot_percent": 50, "steps": [5, 25, 50, 100], "soak_seconds": 120}})


class EnvironmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`GET /api/v1/environments/` and `/environments/{name}/`: rollout policy per environment.

    Visible to every signed-in user (no team data). The cluster connection is summarised
    as its kind and a redacted endpoint: tokens and kubeconfig never leave the server.
    """

    queryset = Environment.objects.all()
    serializer_class = EnvironmentSerializer
    lookup_field = "name"
    filter_backends: list = []
    pagination_class = None

    def get_object(self):
        # Checked before the database sees it (NUL bytes, length).
        name = self.kwargs.get("name", "")
        found = Environment.objects.filter(name=name).first() if ENV_NAME.fullmatch(name) else None
        if found is None:
            raise NotFound("No such environment.")
        return found


class InstanceTypeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`GET /api/v1/instance-types/`: the instance catalog with on-demand and spot prices
    (USD/hour, us-east-1) and the date they were read. Filter `gpu=true|false`, `family`."""

    queryset = InstanceType.objects.filter(available=True)
    serializer_class = InstanceTypeSerializer
    filterset_class = InstanceTypeFilterSet
    pagination_class = None


def _detail_queryset(qs):
    return qs.select_related("tenant", "model", "version", "environment", "requested_by", "rollout").prefetch_related(
        Prefetch("rollout__analyses", queryset=Analysis.objects.order_by("created_at", "id")),
        Prefetch("events", queryset=RolloutEvent.objects.order_by("created_at", "id")),
        Prefetch("approvals", queryset=Approval.objects.select_related("decided_by").order_by("created_at", "id")),
    )


CONTROL_RESPONSES = {200: DeploymentDetailSerializer, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM}


class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Deployments of the caller's teams (every team for platform engineers)."""

    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilterSet
    queryset = Deployment.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        qs = Deployment.objects.for_user(self.request.user, "view")
        if self.action == "list":
            return qs.select_related("tenant", "model", "version", "environment", "requested_by", "rollout")
        return _detail_queryset(qs)

    def get_serializer_class(self):
        return DeploymentSerializer if self.action == "list" else DeploymentDetailSerializer

    def _version(self, request) -> tuple[ModelVersion, dict]:
        serializer = DeploymentRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # Another team's version reads exactly like a missing one: 404 naming the field.
        version = (ModelVersion.objects.for_user(request.user, "view").select_related("model__tenant")
                   .filter(pk=data["version"]).first())
        if version is None:
            raise NotFound("No such model version, or it is not one of your teams'.", field="version")
        return version, data

    def _render(self, deployment: Deployment, code: int = status.HTTP_200_OK) -> Response:
        fresh = _detail_queryset(Deployment.objects.all()).get(pk=deployment.pk)
        return Response(DeploymentDetailSerializer(fresh).data, status=code)

    @extend_schema(request=DeploymentRequestSerializer, examples=[REQUEST_EXAMPLE], responses={
        201: DeploymentDetailSerializer, 400: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM})
    def create(self, request, *args, **kwargs):
        """Request a deployment. Staging is queued at once; an environment that needs approval
        (production) waits for a platform engineer. Refused with field errors for a bad
        config, `gpu_quota_exceeded` (with the numbers) when the plan does not fit, and
        `version_not_ready` (naming the failing items) for production."""
        version, data = self._version(request)
        deployment = services.request_deployment(version, environment=data["environment"],
                                                 config=data.get("config"), actor=request.user)
        return self._render(deployment, status.HTTP_201_CREATED)

    @extend_schema(request=DeploymentRequestSerializer, examples=[REQUEST_EXAMPLE],
                   responses={200: PlanSerializer, 400: PROBLEM, 404: PROBLEM}, filters=False)
    @action(detail=False, methods=["post"])
    def plan(self, request):
        """Preview a request without writing anything: the normalised config, peak GPUs against
        the team's quota headroom, the rolling batches, the hourly price and readiness."""
        version, data = self._version(request)
        preview = services.preview(version, environment=data["environment"], config=data.get("config"),
                                   actor=request.user)
        environment = services.get_environment(data["environment"])
        return Response(PlanSerializer(preview, context={"requires_approval": environment.requires_approval}).data)

    def retrieve(self, request, *args, **kwargs):
        """One deployment with its rollout: state, step, weights, every analysis, event and
        approval, and `cluster: {namespace, workload}`."""
        return super().retrieve(request, *args, **kwargs)

    def _control(self, request, serializer_class, call) -> Response:
        deployment = self.get_object()
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        call(deployment, **serializer.validated_data)
        return self._render(deployment)

    @extend_schema(request=CommentSerializer, filters=False,
                   responses={200: DeploymentDetailSerializer, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a pending request (platform engineers who did not request it; 403
        `self_approval` for the requester). Binds to the artifact digest and config hash."""
        return self._control(request, CommentSerializer,
                             lambda d, comment="": services.approve(d, actor=request.user, comment=comment))

    @extend_schema(request=CommentSerializer, filters=False,
                   responses={200: DeploymentDetailSerializer, 400: PROBLEM, 403: PROBLEM, 404: PROBLEM,
                              409: PROBLEM})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a pending request; `comment` is required."""
        return self._control(request, CommentSerializer,
                             lambda d, comment="": services.reject(d, actor=request.user, comment=comment))

    def _rollout_control(self, request, name: str) -> Response:
        call = getattr(services, name)
        return self._control(request, ReasonSerializer,
                             lambda d, reason="": call(d, actor=request.user, reason=reason))

    @extend_schema(request=ReasonSerializer, filters=False, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Hold a progressing rollout at its step (platform engineers); gates keep guarding it."""
        return self._rollout_control(request, "pause")

    @extend_schema(request=ReasonSerializer, filters=False, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Continue a paused rollout (platform engineers); the step's soak starts again."""
        return self._rollout_control(request, "resume")

    @extend_schema(request=ReasonSerializer, filters=False, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """Skip the current step's wait: the next tick advances one step (platform engineers)."""
        return self._rollout_control(request, "promote")

    @extend_schema(request=ReasonSerializer, filters=False, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def abort(self, request, pk=None):
        """Stop a queued or running rollout: all traffic back to stable (the team or platform)."""
        return self._rollout_control(request, "abort")

    @extend_schema(request=ReasonSerializer, filters=False, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        """Abort a running rollout, or hand a live deployment back to the previous live version."""
        return self._rollout_control(request, "rollback")


def register(router) -> list:
    router.register("environments", EnvironmentViewSet, basename="environment")
    router.register("instance-types", InstanceTypeViewSet, basename="instance-type")
    router.register("deployments", DeploymentViewSet, basename="deployment")
    return []
