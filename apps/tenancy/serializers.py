"""API shapes of the caller (`me`), teams and personal API tokens."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.serializers import RefuseUnknownFieldsMixin, StrictCharField, iso
from apps.tenancy.choices import Role
from apps.tenancy.models import ApiToken, Tenant


class MembershipSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)


class MeSerializer(serializers.Serializer):
    """The caller: who they are, their teams and roles, whether they are a platform engineer."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    email = serializers.EmailField()
    is_platform = serializers.BooleanField()
    tenants = MembershipSerializer(many=True)
    authenticated_by = serializers.ChoiceField(choices=["session", "token"])

    def to_representation(self, user) -> dict:
        memberships = self.context["memberships"]
        request = self.context["request"]
        return {
            "id": user.pk,
            "username": user.username,
            "display_name": user.display_name or user.username,
            "email": user.email,
            "is_platform": user.is_platform,
            "tenants": [{"slug": m.tenant.slug, "name": m.tenant.name, "role": m.role} for m in memberships],
            "authenticated_by": "token" if isinstance(request.auth, ApiToken) else "session",
        }


class TenantSerializer(serializers.Serializer):
    """A team with its limits. The webhook URL is a secret (it carries a signing path), so
    only whether one is configured is shown."""

    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField(allow_null=True,
                                 help_text="The caller's role in the team; null for platform engineers "
                                           "who are not members.")
    gpu_quota = serializers.IntegerField()
    gpu_in_use = serializers.IntegerField(help_text="GPUs reserved by the team's active deployments.")
    gpu_headroom = serializers.IntegerField()
    monthly_budget_usd = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    rate_limit_per_minute = serializers.IntegerField()
    webhook_configured = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def to_representation(self, tenant: Tenant) -> dict:
        user = self.context["request"].user
        in_use = self.context.get("gpu_in_use", {}).get(tenant.pk, 0)
        return {
            "slug": tenant.slug,
            "name": tenant.name,
            "role": user.role_in(tenant.pk),
            "gpu_quota": tenant.gpu_quota,
            "gpu_in_use": in_use,
            "gpu_headroom": max(0, tenant.gpu_quota - in_use),
            "monthly_budget_usd": f"{tenant.monthly_budget_usd:.2f}",
            "rate_limit_per_minute": tenant.rate_limit_per_minute,
            "webhook_configured": bool(tenant.webhook_url),
            "created_at": iso(tenant.created_at),
        }


class TokenSerializer(serializers.Serializer):
    """A personal API token without its secret."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="Public part of the token, to recognise it.")
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, token: ApiToken) -> dict:
        return {
            "id": token.pk,
            "name": token.name,
            "prefix": token.prefix,
            "active": token.is_active,
            "created_at": iso(token.created_at),
            "expires_at": iso(token.expires_at),
            "revoked_at": iso(token.revoked_at),
            "last_used_at": iso(token.last_used_at),
        }


class IssuedTokenSerializer(TokenSerializer):
    token = serializers.CharField(help_text="The secret. Shown once: store it now.")

    def to_representation(self, issued) -> dict:
        data = super().to_representation(issued.token)
        data["token"] = issued.secret
        return data


class TokenCreateSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    name = StrictCharField(max_length=100, help_text="What the token is for, e.g. 'ci-pipeline'.")
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True,
        help_text="Days until the token expires; 0 = never; omitted = the portal's default.")
