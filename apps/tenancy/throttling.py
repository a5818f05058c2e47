"""Rate limits: per API token (setting) and per tenant (Tenant.rate_limit_per_minute).

Fixed one-minute windows counted in the shared cache (Redis in production), so every web
process sees the same counters. Answers 429 with Retry-After (seconds to the window end).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from apps.tenancy.models import ApiToken

WINDOW_SECONDS = 60


def _hit(key: str, limit: int) -> float | None:
    """Count one request against `key`; return seconds to wait when over `limit`."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    full_key = f"rl:{key}:{window}"
    if cache.add(full_key, 1, timeout=WINDOW_SECONDS + 5):
        count = 1
    else:
        try:
            count = cache.incr(full_key)
        except ValueError:  # expired between add and incr
            cache.set(full_key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
    if count > limit:
        return (window + 1) * WINDOW_SECONDS - now
    return None


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
        from apps.tenancy.models import Tenant

        tenant_ids = sorted(user.tenant_ids("view"))
        if not tenant_ids:
            return True
        limits = dict(Tenant.objects.filter(pk__in=tenant_ids).values_list("pk", "rate_limit_per_minute"))
        waits = [w for tid in tenant_ids if (w := _hit(f"tenant:{tid}", limits.get(tid, 600))) is not None]
        if waits:
            self._wait = max(waits)
            return False
        return True

    def wait(self):
        return self._wait
