"""REST API of the tenancy app: `me`, teams, personal API tokens."""

from __future__ import annotations

import re

from django.urls import path
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import ScopedReadOnlyViewSet, no_content
from apps.core.errors import NotFound
from apps.tenancy import services
from apps.tenancy.models import ApiToken, Membership, Tenant
from apps.tenancy.serializers import (
    IssuedTokenSerializer,
    MeSerializer,
    TenantSerializer,
    TokenCreateSerializer,
    TokenSerializer,
)

SLUG = re.compile(r"[a-z0-9-]{1,40}")


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <token>` (personal API tokens) in the OpenAPI schema."""

    target_class = "apps.tenancy.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A personal API token (`slw_…`) from /tokens/ or `manage.py issue_token`."}


def gpu_in_use(tenant_ids: list[int]) -> dict[int, int]:
    """GPUs reserved per tenant, in one grouped query for the whole page.

    The same rows and sum as `apps.deployments.services.gpus_in_use(tenant_id)` (the
    reserving statuses, `reserved_gpus`), grouped by tenant instead of one query per team.
    """
    from django.db.models import Sum

    from apps.deployments.choices import RESERVING
    from apps.deployments.models import Deployment

    totals = dict(Deployment.objects.filter(tenant_id__in=tenant_ids, status__in=RESERVING)
                  .order_by().values("tenant_id").annotate(total=Sum("reserved_gpus"))
                  .values_list("tenant_id", "total"))
    return {tid: int(totals.get(tid) or 0) for tid in tenant_ids}


class MeView(APIView):
    """`GET /api/v1/me/`: the caller, their teams and roles, whether they are a platform engineer."""

    @extend_schema(responses=MeSerializer, operation_id="me_retrieve")
    def get(self, request):
        memberships = Membership.objects.filter(user=request.user).select_related("tenant").order_by("tenant__slug")
        return Response(MeSerializer(request.user, context={"request": request, "memberships": memberships}).data)


class TenantViewSet(ScopedReadOnlyViewSet):
    """`GET /api/v1/tenants/` and `/tenants/{slug}/`: the teams the caller sees, with quota,
    GPUs in use, budget and rate limit."""

    scoped_model = Tenant
    serializer_class = TenantSerializer
    lookup_field = "slug"

    def get_object(self):
        # Refuse malformed slugs before they reach the database (NUL bytes upset PostgreSQL).
        if not SLUG.fullmatch(self.kwargs.get("slug", "")):
            raise NotFound("No such team.")
        return super().get_object()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "gpu_in_use": getattr(self, "_gpu_in_use", {})}

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self._gpu_in_use = gpu_in_use([t.pk for t in page])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        tenant = self.get_object()
        self._gpu_in_use = gpu_in_use([tenant.pk])
        return Response(self.get_serializer(tenant).data)


class TokenViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                   viewsets.GenericViewSet):
    """The caller's own API tokens. Another user's token is not in the queryset → 404."""

    serializer_class = TokenSerializer
    queryset = ApiToken.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=TokenCreateSerializer, responses={201: IssuedTokenSerializer})
    def create(self, request, *args, **kwargs):
        """Issue a token; the response carries the secret, shown this once."""
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.issue_token(request.user, actor=request.user, **serializer.validated_data)
        return Response(IssuedTokenSerializer(issued).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        """Revoke the token (kept in the list as revoked; revoking twice changes nothing)."""
        services.revoke_token(self.get_object(), actor=request.user)
        return no_content()


def register(router) -> list:
    router.register("tenants", TenantViewSet, basename="tenant")
    router.register("tokens", TokenViewSet, basename="token")
    return [path("me/", MeView.as_view(), name="me")]
