"""Tokens and sign-in events: the tenancy app's writes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core import audit
from apps.core.errors import NotFound, ValidationFailed
from apps.tenancy.errors import TenancyErrorCode
from apps.tenancy.models import ApiToken, User

TOKEN_PREFIX = "slw_"
MAX_ACTIVE_TOKENS = 50
MAX_TOKEN_DAYS = 366


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def issue_token(user: User, *, actor: User, name: str, expires_in_days: int | None = None) -> IssuedToken:
    """Create a personal API token for `user`; return the row and the one-time secret.

    Only the SHA-256 of the secret is stored. `expires_in_days=None` uses the default;
    0 means no expiry.
    """
    name = (name or "").strip()
    errors = []
    if not name:
        errors.append(("name", TenancyErrorCode.TOKEN_NAME_REQUIRED, "Give the token a name, e.g. 'ci-pipeline'."))
    elif len(name) > 100:
        errors.append(("name", "max_length", "The name can be at most 100 characters."))
    elif "\x00" in name:
        errors.append(("name", "null_characters", "The name cannot contain NUL characters."))
    days = settings.SLIPWAY_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not isinstance(days, int) or days < 0 or days > MAX_TOKEN_DAYS:
        errors.append(("expires_in_days", TenancyErrorCode.TOKEN_EXPIRY_INVALID,
                       f"Expiry must be between 0 (never) and {MAX_TOKEN_DAYS} days."))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        # Lock the user row so two concurrent requests cannot both pass the limit check.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user).active().count() >= MAX_ACTIVE_TOKENS:
            raise ValidationFailed([(None, TenancyErrorCode.TOKEN_LIMIT,
                                     f"You already have {MAX_ACTIVE_TOKENS} active tokens; revoke one first.")])
        prefix = secrets.token_hex(4)
        secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        token = ApiToken.objects.create(
            user=user, name=name, prefix=prefix, secret_hash=hash_secret(secret),
            expires_at=(timezone.now() + timedelta(days=days)) if days else None,
        )
        audit.record("token.created", actor=actor, obj=token,
                     after={"name": name, "prefix": prefix, "expires_at": token.expires_at, "user": user.username})
    return IssuedToken(token=token, secret=secret)


def revoke_token(token: ApiToken, *, actor: User) -> ApiToken:
    """Revoke a token (idempotent: revoking a revoked token changes nothing)."""
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().filter(pk=token.pk).first()
        if locked is None:
            raise NotFound("No such token.")
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            audit.record("token.revoked", actor=actor, obj=locked, before={"revoked_at": None},
                         after={"revoked_at": locked.revoked_at})
    return locked


def authenticate_token(raw: str) -> ApiToken | None:
    """The active token matching `raw`, or None. Constant-time comparison of the hash."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    try:
        prefix = raw[len(TOKEN_PREFIX):].split("_", 1)[0]
    except IndexError:
        return None
    if not prefix or len(prefix) > 16:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.secret_hash, hash_secret(raw)):
        return None
    if not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        # Throttled write: at most one UPDATE per token per minute.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
