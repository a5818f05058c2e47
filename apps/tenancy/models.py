"""Teams (tenants), who belongs to them, the platform group, and personal API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from apps.core.scoping import TenantScopedQuerySet
from apps.tenancy.choices import Action, Role


class User(AbstractUser):
    """A person. `is_platform` puts them in the global platform-engineer group.

    Tenant ids per action are cached on the instance (one query per request), so
    permission checks in loops stay constant in queries.
    """

    is_platform = models.BooleanField(
        "platform engineer", default=False,
        help_text="Member of the platform group: sees every team, approves production.",
    )
    display_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    def refresh_from_db(self, *args, **kwargs) -> None:
        # A reloaded user must not keep the memberships cached before the reload.
        self.__dict__.pop("_slipway_memberships", None)
        super().refresh_from_db(*args, **kwargs)

    def _membership_map(self) -> dict[int, str]:
        cached = getattr(self, "_slipway_memberships", None)
        if cached is None:
            # order_by(): Meta.ordering would join user and tenant on every request for nothing.
            cached = dict(Membership.objects.filter(user_id=self.pk).order_by().values_list("tenant_id", "role"))
            self._slipway_memberships = cached
        return cached

    def tenant_ids(self, action: str = Action.VIEW) -> set[int]:
        """Tenants whose objects this user may see (VIEW) or change (CHANGE) as a member."""
        memberships = self._membership_map()
        if action == Action.VIEW:
            return set(memberships)
        return {tid for tid, role in memberships.items() if role == Role.DATA_SCIENTIST}

    def role_in(self, tenant_id: int) -> str | None:
        return self._membership_map().get(tenant_id)

    def can(self, action: str, tenant_id: int) -> bool:
        """May this user `action` ("view" or "change") the objects of `tenant_id`?"""
        if not self.is_authenticated or not self.is_active:
            return False
        if self.is_platform:
            return True
        return tenant_id in self.tenant_ids(action)


slug_validator = RegexValidator(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$",
                                "Use 1-40 lowercase letters, digits and dashes, not starting or ending with a dash.")


class Tenant(models.Model):
    """A team. Every model, deployment, cost and drift row belongs to exactly one."""

    tenant_path = "id"

    slug = models.SlugField(max_length=40, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    gpu_quota = models.PositiveIntegerField(default=8, help_text="GPUs this team's deployments may reserve in total.")
    monthly_budget_usd = models.DecimalField(max_digits=12, decimal_places=2, default=10000,
                                             validators=[MinValueValidator(0)])
    rate_limit_per_minute = models.PositiveIntegerField(default=600,
                                                        help_text="API requests per minute for the whole team.")
    webhook_url = models.URLField(blank=True, max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    """A user's role in one team."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.DATA_SCIENTIST)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__slug", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} as {self.role}"


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApiToken(models.Model):
    """A personal API token: the secret is shown once; only its SHA-256 is stored.

    The token acts exactly as its user may. `prefix` (public) finds the row; the hash of
    the whole token is compared in constant time.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
