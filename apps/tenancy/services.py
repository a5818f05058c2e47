"""Tokens and sign-in events: the tenancy app's writes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core import audit
from apps.core.errors import NotFound, NotPermitted, ValidationFailed
from apps.tenancy.errors import TenancyErrorCode
from apps.tenancy.models import ApiToken, User

TOKEN_PREFIX = "slw_"
MAX_ACTIVE_TOKENS = 50
MAX_TOKEN_DAYS = 366
# slw_<8-16 hex prefix>_<token_urlsafe secret>: anything else is refused before a query.
TOKEN_RE = re.compile(r"^slw_(?P<prefix>[0-9a-f]{8,16})_[A-Za-z0-9_-]{20,128}$")


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_self_or_platform(user: User, actor: User | None, doing: str) -> None:
    """A person manages their own tokens; platform engineers (and the system, actor None) anyone's."""
    if actor is None:
        return
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotPermitted("Sign in first.")
    if actor.pk != user.pk and not actor.is_platform:
        raise NotPermitted(f"You can only {doing} your own API tokens.")


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def issue_token(user: User, *, actor: User, name: str, expires_in_days: int | None = None) -> IssuedToken:
    """Create a personal API token for `user`; return the row and the one-time secret.

    Only the SHA-256 of the secret is stored. `expires_in_days=None` uses the default;
    0 means no expiry. `actor` is the user themselves, a platform engineer, or None (CLI).
    """
    _require_self_or_platform(user, actor, "create")
    errors: list[tuple[str | None, str, str]] = []
    name = name.strip() if isinstance(name, str) else name
    if name is not None and not isinstance(name, str):
        errors.append(("name", "invalid", "The name must be text."))
    elif not name:
        errors.append(("name", TenancyErrorCode.TOKEN_NAME_REQUIRED, "Give the token a name, e.g. 'ci-pipeline'."))
    elif len(name) > 100:
        errors.append(("name", "max_length", "The name can be at most 100 characters."))
    elif "\x00" in name:
        errors.append(("name", "null_characters", "The name cannot contain NUL characters."))
    days = settings.SLIPWAY_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if isinstance(days, bool) or not isinstance(days, int) or days < 0 or days > MAX_TOKEN_DAYS:
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
        expires_at = (timezone.now() + timedelta(days=days)) if days else None
        for attempt in range(5):
            # 32 random bits of public prefix: a collision is rare but must not be a 500.
            prefix = secrets.token_hex(4)
            secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
            try:
                with transaction.atomic():
                    token = ApiToken.objects.create(user=user, name=name, prefix=prefix,
                                                    secret_hash=hash_secret(secret), expires_at=expires_at)
                break
            except IntegrityError:
                if attempt == 4:
                    raise
        audit.record("token.created", actor=actor, obj=token,
                     after={"name": name, "prefix": prefix, "expires_at": token.expires_at, "user": user.username})
    return IssuedToken(token=token, secret=secret)


def revoke_token(token: ApiToken, *, actor: User) -> ApiToken:
    """Revoke a token (idempotent: revoking a revoked token changes nothing, writes no event).

    The token's owner, a platform engineer, or the system (actor None) may revoke it.
    """
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().select_related("user").filter(pk=token.pk).first()
        if locked is None:
            raise NotFound("No such token.")
        if actor is not None and actor.pk != locked.user_id and not getattr(actor, "is_platform", False):
            raise NotFound("No such token.")  # someone else's token: do not reveal it exists
        _require_self_or_platform(locked.user, actor, "revoke")
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            audit.record("token.revoked", actor=actor, obj=locked, before={"revoked_at": None},
                         after={"revoked_at": locked.revoked_at})
    return locked


def authenticate_token(raw: str) -> ApiToken | None:
    """The active token matching `raw`, or None. Constant-time comparison of the hash.

    Garbage (wrong shape, NUL bytes, non-ASCII) is refused before any query.
    """
    match = TOKEN_RE.match(raw) if isinstance(raw, str) else None
    if match is None:
        return None
    prefix = match.group("prefix")
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
