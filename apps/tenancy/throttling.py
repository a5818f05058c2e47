"""Rate limits: per API token (setting) and per tenant (Tenant.rate_limit_per_minute).

Fixed one-minute windows counted in the shared cache (Redis in production), so every web
process sees the same counters. Answers 429 with Retry-After (seconds to the window end).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.throttling import BaseThrottle

from apps.tenancy.models import ApiToken

WINDOW_SECONDS = 60


def _hit(key: str, limit: int) -> float | None:
    """Count one request against `key`; return seconds to wait when over `limit`."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    full_key = f"rl:{key}:{window}"
    # incr first: the key exists for all but the window's first request, and a failed add
    # costs a cache round trip (a file read with the file cache) on every request.
    try:
        count = cache.incr(full_key)
    except ValueError:  # the window's first request
        if cache.add(full_key, 1, timeout=WINDOW_SECONDS + 5):
            count = 1
        else:  # another process added it meanwhile
            count = cache.incr(full_key)
    if count > limit:
        return (window + 1) * WINDOW_SECONDS - now
    return None


# Tenants' limits, per process for LIMITS_TTL seconds: read on every API request, changed
# rarely. A save in this process forgets the entry at once; other processes within the TTL.
LIMITS_TTL = 30.0
_limits: dict[int, tuple[float, int]] = {}


def tenant_limits(tenant_ids: list[int]) -> dict[int, int]:
    """Requests/minute per tenant; one query for the tenants not cached (or stale)."""
    from apps.tenancy.models import Tenant

    now = time.monotonic()
    stale = [tid for tid in tenant_ids if (entry := _limits.get(tid)) is None or entry[0] < now]
    if stale:
        for pk, limit in Tenant.objects.filter(pk__in=stale).values_list("pk", "rate_limit_per_minute"):
            _limits[pk] = (now + LIMITS_TTL, limit)
    return {tid: _limits[tid][1] for tid in tenant_ids if tid in _limits}


@receiver(post_save, sender="tenancy.Tenant")
@receiver(post_delete, sender="tenancy.Tenant")
def _forget_limit(sender, instance, **kwargs) -> None:
    _limits.pop(instance.pk, None)


class TokenRateThrottle(BaseThrottle):
    """Per-token limit for Bearer-authenticated requests."""

    def allow_request(self, request, view):
        self._wait = None
        if not isinstance(request.auth, ApiToken):
            return True
        self._wait = _hit(f"token:{request.auth.pk}", settings.SLIPWAY_TOKEN_RATE_PER_MINUTE)
        return self._wait is None

    def wait(self):
        return self._wait


class TenantRateThrottle(BaseThrottle):
    """Per-tenant limit: every team the caller acts for counts the request.

    A request is attributed to each of the caller's teams (platform engineers are not
    limited per tenant); when any of those teams is over its limit the request waits.
    """

    def allow_request(self, request, view):
        self._wait = None
        user = request.user
        if not getattr(user, "is_authenticated", False) or getattr(user, "is_platform", False):
            return True
        tenant_ids = sorted(user.tenant_ids("view"))
        if not tenant_ids:
            return True
        limits = tenant_limits(tenant_ids)
        waits = [w for tid in tenant_ids if (w := _hit(f"tenant:{tid}", limits.get(tid, 600))) is not None]
        if waits:
            self._wait = max(waits)
            return False
        return True

    def wait(self):
        return self._wait
