"""OpenID Connect single sign-on (optional): users, the platform group and team roles from the IdP.

Enabled when OIDC_RP_CLIENT_ID is set (see .env.example and portal/settings.py). The IdP is
the source of truth for SSO users:

- the user is found by the username claim (OIDC_USERNAME_CLAIM, default
  `preferred_username`), created on first sign-in (no usable password), and their e-mail and
  names are refreshed from the claims on every sign-in;
- the groups claim (OIDC_GROUPS_CLAIM, default `groups`) decides everything they may do:
  membership of OIDC_PLATFORM_GROUP makes them a platform engineer (and its absence takes
  that away); OIDC_TEAM_GROUPS maps IdP groups to team roles, e.g.
  `slipway-recsys-ds=recsys:data_scientist,slipway-recsys-viewer=recsys:viewer`.
  When several groups name one team the strongest role wins (data scientist over viewer).
  Memberships the claim no longer grants are removed; mapped teams that do not exist are
  skipped (teams are created in Slipway, not by the IdP).

Every change to a user's access (creation, platform flag, memberships) is one audit event
(`auth.sso_user_created`, `auth.sso_access_changed`); the sign-in itself is audited by
apps.tenancy.signals like a password sign-in. A failed SSO sign-in (bad signature, wrong
audience or issuer, expired token, IdP unreachable) is audited as `auth.sso_failed` and the
user is sent back to the sign-in page with a message, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from apps.core import audit
from apps.tenancy.choices import Role
from apps.tenancy.models import Membership, Tenant, User

log = logging.getLogger(__name__)

# Stronger roles first: a user in both the viewer and the data-scientist group of a team is a data scientist.
ROLE_STRENGTH = {Role.DATA_SCIENTIST: 2, Role.VIEWER: 1}


@dataclass(frozen=True)
class TeamGrant:
    group: str
    tenant_slug: str
    role: str


def parse_team_groups(raw: str) -> list[TeamGrant]:
    """`group=team:role,group=team:role` → grants; a malformed entry stops the process."""
    grants: list[TeamGrant] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        group, sep, target = entry.partition("=")
        slug, sep2, role = target.partition(":")
        group, slug, role = group.strip(), slug.strip(), role.strip()
        if not sep or not sep2 or not group or not slug or role not in ROLE_STRENGTH:
            raise ImproperlyConfigured(
                f"OIDC_TEAM_GROUPS entry {entry!r} must look like group=team:role with role "
                f"one of {', '.join(ROLE_STRENGTH)}.")
        grants.append(TeamGrant(group, slug, role))
    return grants


def roles_from_groups(groups: Iterable[str], grants: list[TeamGrant]) -> dict[str, str]:
    """Team slug → the strongest role the user's groups grant there."""
    member_of = set(groups)
    roles: dict[str, str] = {}
    for grant in grants:
        if grant.group in member_of:
            current = roles.get(grant.tenant_slug)
            if current is None or ROLE_STRENGTH[grant.role] > ROLE_STRENGTH[current]:
                roles[grant.tenant_slug] = grant.role
    return roles


def groups_from_claims(claims: dict) -> list[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM, [])
    if isinstance(value, str):  # some IdPs send one group as a plain string
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(g) for g in value if isinstance(g, (str, int))]


def sync_access(user: User, claims: dict, *, created: bool) -> dict:
    """Make the user's platform flag and memberships exactly what the claims grant.

    Returns {"before": ..., "after": ...} of what changed (empty dict when nothing did).
    Runs in the caller's transaction; writes one audit event when anything changed.
    """
    groups = groups_from_claims(claims)
    wanted_platform = bool(settings.OIDC_PLATFORM_GROUP) and settings.OIDC_PLATFORM_GROUP in groups
    wanted_roles = roles_from_groups(groups, parse_team_groups(settings.OIDC_TEAM_GROUPS))
    tenants = {t.slug: t for t in Tenant.objects.filter(slug__in=wanted_roles)}
    unknown = sorted(set(wanted_roles) - set(tenants))
    if unknown:
        log.warning("OIDC groups of %s map to teams that do not exist: %s", user.username, unknown)
    wanted = {slug: role for slug, role in wanted_roles.items() if slug in tenants}

    current = {m.tenant.slug: m for m in Membership.objects.filter(user=user).select_related("tenant")}
    before = {"is_platform": user.is_platform, "memberships": {s: m.role for s, m in sorted(current.items())}}
    for slug, membership in current.items():
        if slug not in wanted:
            membership.delete()
        elif membership.role != wanted[slug]:
            membership.role = wanted[slug]
            membership.save(update_fields=["role"])
    for slug, role in wanted.items():
        if slug not in current:
            Membership.objects.create(user=user, tenant=tenants[slug], role=role)
    if user.is_platform != wanted_platform:
        user.is_platform = wanted_platform
        user.save(update_fields=["is_platform"])
    user.__dict__.pop("_slipway_memberships", None)  # cached tenant ids are stale now
    after = {"is_platform": wanted_platform, "memberships": dict(sorted(wanted.items()))}
    if created:
        audit.record("auth.sso_user_created", actor=user, obj=user, object_repr=user.username,
                     after={**after, "groups": groups})
        return {"before": None, "after": after}
    if before != after:
        audit.record("auth.sso_access_changed", actor=user, obj=user, object_repr=user.username,
                     before=before, after={**after, "groups": groups})
        return {"before": before, "after": after}
    return {}


class SlipwayOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's code-flow backend with Slipway's user and access mapping.

    On top of the library's signature and nonce checks it verifies the ID token's audience
    (our client id), issuer (OIDC_OP_ISSUER, when set) and expiry, and turns every failure
    into a refused sign-in rather than an exception.
    """

    def verify_token(self, token, **kwargs):
        try:
            payload = super().verify_token(token, **kwargs)
        except jwt.InvalidTokenError as exc:  # expired, not yet valid, malformed: not a DecodeError
            raise SuspiciousOperation(f"ID token rejected: {exc}") from exc
        if "nonce" not in kwargs:
            return payload  # a userinfo answer signed as a JWT, not the ID token
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token audience is not this client.")
        issuer = settings.OIDC_OP_ISSUER
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation("ID token issuer is not the configured IdP.")
        if "exp" not in payload:
            raise SuspiciousOperation("ID token has no expiry.")
        return payload

    def authenticate(self, request, **kwargs):
        try:
            return super().authenticate(request, **kwargs)
        except (SuspiciousOperation, requests.RequestException, ValueError, KeyError) as exc:
            # ValueError/KeyError: a token endpoint answering non-JSON or without id_token.
            log.warning("OIDC sign-in failed: %s", exc)
            audit.record("auth.sso_failed", actor=None, actor_label="anonymous",
                         after={"reason": str(exc)[:500]})
            if request is not None and hasattr(request, "_messages"):
                messages.error(request, "Single sign-on failed; try again or ask the platform team.")
            return None

    # --- claims → user -------------------------------------------------------------------

    def _username(self, claims: dict) -> str:
        return str(claims.get(settings.OIDC_USERNAME_CLAIM) or "").strip()[:150]

    def verify_claims(self, claims):
        return bool(self._username(claims))

    def describe_user_by_claims(self, claims):
        return f"username {self._username(claims)!r}"

    def filter_users_by_claims(self, claims):
        username = self._username(claims)
        if not username:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(username=username)

    def _profile(self, claims: dict) -> dict:
        return {"email": str(claims.get("email") or "")[:254],
                "first_name": str(claims.get("given_name") or "")[:150],
                "last_name": str(claims.get("family_name") or "")[:150],
                "display_name": str(claims.get("name") or "")[:150]}

    def create_user(self, claims):
        with transaction.atomic():
            user = self.UserModel(username=self._username(claims), **self._profile(claims))
            user.set_unusable_password()  # SSO users sign in through the IdP only
            user.save()
            sync_access(user, claims, created=True)
        return user

    def update_user(self, user, claims):
        if not user.is_active:
            return user  # a deactivated account stays deactivated; the callback refuses it
        with transaction.atomic():
            profile = self._profile(claims)
            changed = [k for k, v in profile.items() if getattr(user, k) != v]
            for key in changed:
                setattr(user, key, profile[key])
            if changed:
                user.save(update_fields=changed)
            sync_access(user, claims, created=False)
        return user
