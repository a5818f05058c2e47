"""API shapes of destinations and deliveries. The secret appears only in create/rotate answers."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.serializers import RefuseUnknownFieldsMixin, StrictBooleanField, StrictCharField
from apps.notifications.choices import SUBSCRIBABLE, DestinationKind
from apps.notifications.models import Delivery, DeliveryAttempt, Destination
from apps.tenancy.models import Tenant


class DestinationSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    secret_set = serializers.SerializerMethodField(help_text="Whether a signing secret exists (webhooks).")

    class Meta:
        model = Destination
        fields = ("id", "tenant", "name", "kind", "url", "email", "enabled", "events", "secret_set",
                  "secret_rotated_at", "created_at", "updated_at")

    def get_secret_set(self, obj) -> bool:
        return bool(obj.secret)


class DestinationWithSecretSerializer(DestinationSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret: shown in this answer only.")

    class Meta(DestinationSerializer.Meta):
        fields = (*DestinationSerializer.Meta.fields, "secret")


class DestinationCreateSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    """`POST /api/v1/notifications/destinations/`. `tenant` is a team slug the caller can see."""

    tenant = serializers.SlugRelatedField(slug_field="slug", queryset=Tenant.objects.none())
    name = StrictCharField(max_length=100)
    kind = serializers.ChoiceField(choices=DestinationKind.choices, default=DestinationKind.WEBHOOK)
    url = StrictCharField(max_length=500, required=False, allow_blank=True)
    email = StrictCharField(max_length=254, required=False, allow_blank=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), required=False,
                                   allow_empty=False, max_length=len(SUBSCRIBABLE) * 2,
                                   help_text="Events to receive; default all.")
    enabled = StrictBooleanField(required=False, default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        self.fields["tenant"].queryset = Tenant.objects.for_user(getattr(request, "user", None), "view")


class DestinationUpdateSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    """`PATCH`: name, url or email, events, enabled. Tenant, kind and secret never change here."""

    ignored_fields = frozenset({"id", "tenant", "secret_set", "secret_rotated_at", "created_at", "updated_at"})

    name = StrictCharField(max_length=100, required=False)
    url = StrictCharField(max_length=500, required=False, allow_blank=True)
    email = StrictCharField(max_length=254, required=False, allow_blank=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), required=False,
                                   allow_empty=False, max_length=len(SUBSCRIBABLE) * 2)
    enabled = StrictBooleanField(required=False)
    kind = serializers.ChoiceField(choices=DestinationKind.choices, required=False,
                                   help_text="Accepted only when unchanged.")

    def validate(self, attrs):
        kind = attrs.pop("kind", None)
        if kind is not None and kind != self.context["destination"].kind:
            raise serializers.ValidationError({"kind": serializers.ErrorDetail(
                "The kind of a destination cannot change; add a new destination.", code="kind_mismatch")})
        return attrs


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ("number", "outcome", "status_code", "error", "response_excerpt", "duration_ms", "retry_at",
                  "created_at")


class DeliverySerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = ("id", "tenant", "destination", "destination_name", "kind", "target", "event", "subject", "status",
                  "attempts", "max_attempts", "last_status_code", "last_error", "response_excerpt", "next_attempt_at",
                  "delivered_at", "created_at", "updated_at", "payload", "attempt_log")
