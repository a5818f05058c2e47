"""REST API of notifications:

- `GET, POST /api/v1/notifications/destinations/`; `GET, PATCH, DELETE .../{id}/`;
- `POST .../{id}/test/` (send a test now, answer the delivery), `POST .../{id}/rotate-secret/`;
- `GET /api/v1/notifications/deliveries/` (filters: tenant, destination, event, status, since, until),
  `GET .../deliveries/{id}/` with every attempt.

Thin: parse, call one service, render. Another team's destination is 404; a viewer writing is 403.
"""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api import ScopedReadOnlyViewSet, TenantScopedViewSetMixin, no_content
from apps.notifications import services
from apps.notifications.filtersets import DeliveryFilterSet
from apps.notifications.models import Delivery, DeliveryAttempt, Destination
from apps.notifications.serializers import (
    DeliverySerializer,
    DestinationCreateSerializer,
    DestinationSerializer,
    DestinationUpdateSerializer,
    DestinationWithSecretSerializer,
)


class DestinationViewSet(TenantScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         viewsets.GenericViewSet):
    """Webhook and e-mail destinations of the caller's teams. The signing secret is shown once."""

    scoped_model = Destination
    serializer_class = DestinationSerializer
    filter_backends: list = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def optimize_queryset(self, qs):
        return qs.select_related("tenant")

    @extend_schema(request=DestinationCreateSerializer, responses={201: DestinationWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        """Add a destination to a team; a webhook's `secret` is in this answer only."""
        serializer = DestinationCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        tenant = fields.pop("tenant")
        destination, secret = services.create_destination(tenant, actor=request.user, **fields)
        data = DestinationWithSecretSerializer(destination).data
        data["secret"] = secret
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DestinationUpdateSerializer, responses=DestinationSerializer)
    def partial_update(self, request, *args, **kwargs):
        destination = self.get_object()
        serializer = DestinationUpdateSerializer(data=request.data, partial=True,
                                                 context={"request": request, "destination": destination})
        serializer.is_valid(raise_exception=True)
        destination = services.update_destination(destination, actor=request.user, **serializer.validated_data)
        return Response(DestinationSerializer(destination).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, *args, **kwargs):
        services.delete_destination(self.get_object(), actor=request.user)
        return no_content()

    @extend_schema(request=None, responses=DeliverySerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a test message now (one attempt) and answer its delivery: status, status code, error."""
        delivery = services.send_test(self.get_object(), actor=request.user)
        return Response(DeliverySerializer(_deliveries().get(pk=delivery.pk)).data)

    @extend_schema(request=None, responses=DestinationWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new signing secret (in this answer only); the old one stops working at once."""
        destination = self.get_object()
        secret = services.rotate_secret(destination, actor=request.user)
        destination.refresh_from_db()
        data = DestinationWithSecretSerializer(destination).data
        data["secret"] = secret
        return Response(data)


def _deliveries():
    return Delivery.objects.select_related("tenant").prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number")))


class DeliveryViewSet(ScopedReadOnlyViewSet):
    """The delivery log, newest first: one row per notification with every attempt."""

    scoped_model = Delivery
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilterSet

    def optimize_queryset(self, qs):
        return qs.select_related("tenant").prefetch_related(
            Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number")))


def register(router) -> list:
    router.register("notifications/destinations", DestinationViewSet, basename="notification-destination")
    router.register("notifications/deliveries", DeliveryViewSet, basename="notification-delivery")
    return []
