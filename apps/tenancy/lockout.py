"""Lockout after repeated failed sign-ins (django-axes), with exponential backoff, audited.

Policy (settings AXES_*, SLIPWAY_LOCKOUT_*): after AXES_FAILURE_LIMIT failed sign-ins for one
username from one address, that pair is locked out. The first lockout lasts
SLIPWAY_LOCKOUT_BASE_MINUTES; each further lockout of the same pair within 24 hours doubles
it, up to SLIPWAY_LOCKOUT_MAX_MINUTES. Locking by username *and* address means an attacker
guessing one user's password from one address cannot lock that user out everywhere.

Lockouts are counted from the audit log (`auth.locked_out` events, one per lockout): the
record of security events is also the state the backoff reads, so there is nothing extra
to keep in sync. The sign-in page answers 429 with Retry-After and says when to try again.
"""

from __future__ import annotations

from datetime import timedelta

from axes.backends import AxesBackend
from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessAttemptExpiration
from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.shortcuts import render
from django.utils import timezone

from apps.core import audit
from apps.core.models import AuditEvent

LOCKOUT_ACTION = "auth.locked_out"
BACKOFF_WINDOW = timedelta(hours=24)


class LockoutBackend(AxesBackend):
    """django-axes' backend (first in AUTHENTICATION_BACKENDS): refuses locked-out pairs.

    A sign-in without a request (Django's test `Client.login`, a management command) has no
    address to lock; axes would raise for it. Such calls are not attempts over the network,
    so they pass through to the next backend.
    """

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _pair(request) -> tuple[str, str | None]:
    credentials = getattr(request, "axes_credentials", None)
    username = get_client_username(request, credentials) or ""
    ip_address = getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")
    return str(username)[:150], ip_address


def lockouts_in_window(username: str, ip_address: str | None) -> int:
    since = timezone.now() - BACKOFF_WINDOW
    return AuditEvent.objects.filter(action=LOCKOUT_ACTION, created_at__gte=since, object_repr=username,
                                     ip_address=ip_address).count()


def backoff(lockouts: int) -> timedelta:
    """The n-th lockout in the window lasts base × 2^(n-1), capped."""
    base = settings.SLIPWAY_LOCKOUT_BASE_MINUTES
    minutes = min(base * 2 ** max(0, lockouts - 1), settings.SLIPWAY_LOCKOUT_MAX_MINUTES)
    return timedelta(minutes=minutes)


def cool_off(request=None) -> timedelta:
    """AXES_COOLOFF_TIME: how long this request's username+address pair stays locked."""
    if request is None:
        return backoff(1)
    return backoff(lockouts_in_window(*_pair(request)))


@receiver(user_locked_out)
def on_locked_out(sender, request, username=None, ip_address=None, **kwargs) -> None:
    """Audit a new lockout and give the pair's attempts their backed-off expiry.

    axes sends this signal for the failure that reaches the limit (it set
    `axes_failures_since_start`) and again for every attempt refused while locked; only
    the first is a new lockout. axes computed the attempt's expiry before this lockout
    existed, so it is set again here from the backoff that now applies.
    """
    if request is None or getattr(request, "axes_failures_since_start", None) is None:
        return
    username = str(username or "")[:150]
    ip_address = ip_address or getattr(request, "axes_ip_address", None)
    count = lockouts_in_window(username, ip_address) + 1
    duration = backoff(count)
    now = timezone.now()
    until = now + duration
    audit.record(LOCKOUT_ACTION, actor=None, actor_label=username or "anonymous", object_repr=username,
                 after={"username": username, "ip_address": ip_address, "failures": request.axes_failures_since_start,
                        "lockout_number": count, "minutes": int(duration.total_seconds() // 60),
                        "until": until})
    for attempt in AccessAttempt.objects.filter(username=username, ip_address=ip_address):
        AccessAttemptExpiration.objects.update_or_create(
            access_attempt=attempt, defaults={"expires_at": attempt.attempt_time + duration})


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the sign-in page with when to retry; 429 with Retry-After."""
    username, ip_address = _pair(request)
    duration = cool_off(request)
    attempt = AccessAttempt.objects.filter(username=username, ip_address=ip_address).order_by("-attempt_time").first()
    until = (attempt.attempt_time if attempt else timezone.now()) + duration
    seconds = max(1, int((until - timezone.now()).total_seconds() + 0.999))
    response = render(request, "tenancy/login.html", {
        "locked_out": True, "retry_at": until, "retry_minutes": max(1, (seconds + 59) // 60),
        "form": None, "next": request.POST.get("next", "") if request.method == "POST" else "",
    }, status=429)
    response["Retry-After"] = str(seconds)
    return response
