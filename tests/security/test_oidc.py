"""OpenID Connect SSO end to end: the portal's code flow against a local provider with real
RS256-signed ID tokens (tests/security/oidc_provider.py), and the claim → access mapping."""

from __future__ import annotations

import importlib
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from apps.core.models import AuditEvent
from apps.tenancy.models import Membership, User
from apps.tenancy.oidc import parse_team_groups, roles_from_groups
from tests.security.oidc_provider import running_provider

# portal.urls adds /oidc/ when OIDC_ENABLED is on at its import: import it now, while it is off,
# so the settings these tests switch on never leak into the default routes.
importlib.import_module("portal.urls")

pytestmark = pytest.mark.urls("tests.security.oidc_urls")

TEAM_GROUPS = ("slipway-recsys-ds=recsys:data_scientist,slipway-recsys-viewer=recsys:viewer,"
               "slipway-search-viewer=search:viewer,slipway-ghost-ds=ghost:data_scientist")


@pytest.fixture
def idp(settings, recsys, search):
    with running_provider() as provider:
        for name, value in provider.settings().items():
            setattr(settings, name, value)
        settings.OIDC_ENABLED = True
        settings.OIDC_TEAM_GROUPS = TEAM_GROUPS
        settings.OIDC_PLATFORM_GROUP = "slipway-platform"
        settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "apps.tenancy.oidc.SlipwayOIDCBackend"]
        yield provider


def sso_sign_in(client: Client, idp, claims: dict, *, next_url: str | None = None, tamper_nonce: bool = False):
    """Click "Sign in with SSO", sign in at the IdP, follow the callback. Returns the callback response."""
    start = client.get("/oidc/authenticate/" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302
    location = urlsplit(start["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{idp.url}/authorize"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == idp.client_id and query["response_type"] == "code"
    assert query["redirect_uri"] == "http://testserver/oidc/callback/"
    nonce = "not-" + query["nonce"] if tamper_nonce else query["nonce"]
    code = idp.authorize(nonce=nonce, claims=claims)
    return client.get("/oidc/callback/", {"code": code, "state": query["state"]})


def claims(username="olivia", groups=(), **extra):
    return {"sub": f"sub-{username}", "preferred_username": username, "email": f"{username}@example.com",
            "name": username.title() + " Example", "groups": list(groups), **extra}


def roles(user) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("tenant__slug", "role"))


def test_login_page_offers_sso_only_when_configured(idp, client):
    page = client.get("/login/").content.decode()
    assert 'id="sso-sign-in"' in page and 'href="/oidc/authenticate/' in page


def test_first_sign_in_creates_the_user_with_platform_and_team_roles(idp, client, recsys):
    response = sso_sign_in(client, idp, claims(groups=["slipway-platform", "slipway-recsys-ds",
                                                       "slipway-recsys-viewer", "unrelated"]))
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="olivia")
    assert user.is_platform and not user.has_usable_password()
    assert user.email == "olivia@example.com" and user.display_name == "Olivia Example"
    assert roles(user) == {"recsys": "data_scientist"}, "the strongest role of the team's groups wins"
    assert int(client.session["_auth_user_id"]) == user.pk
    # The token request carried our client credentials and the authorization code.
    assert idp.token_requests[-1]["grant_type"] == "authorization_code"

    assert client.get("/api/v1/me/").json()["is_platform"] is True
    created = AuditEvent.objects.get(action="auth.sso_user_created")
    assert created.after["memberships"] == {"recsys": "data_scientist"} and created.after["is_platform"] is True
    assert AuditEvent.objects.filter(action="auth.login", actor_id=user.pk).count() == 1


def test_later_sign_ins_follow_the_idp_adding_changing_and_removing_access(idp, recsys, search):
    sso_sign_in(Client(), idp, claims(groups=["slipway-platform", "slipway-recsys-ds"]))
    user = User.objects.get(username="olivia")

    # The IdP now says: viewer in recsys, viewer in search, no longer platform.
    response = sso_sign_in(Client(), idp, claims(groups=["slipway-recsys-viewer", "slipway-search-viewer"]))
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_platform
    assert roles(user) == {"recsys": "viewer", "search": "viewer"}
    changed = AuditEvent.objects.get(action="auth.sso_access_changed")
    assert changed.before == {"is_platform": True, "memberships": {"recsys": "data_scientist"}}
    assert changed.after["memberships"] == {"recsys": "viewer", "search": "viewer"}

    # Removed from every Slipway group: no team, no platform; the same sign-in again changes nothing.
    sso_sign_in(Client(), idp, claims(groups=[]))
    assert roles(user) == {} and not User.objects.get(pk=user.pk).is_platform
    sso_sign_in(Client(), idp, claims(groups=[]))
    assert AuditEvent.objects.filter(action="auth.sso_access_changed").count() == 2


def test_a_membership_granted_by_hand_is_removed_when_the_idp_does_not_grant_it(idp, ada, recsys):
    """The IdP is authoritative for SSO users: an existing account is matched by username."""
    assert roles(ada) == {"recsys": "data_scientist"}
    sso_sign_in(Client(), idp, claims("ada", groups=["slipway-search-viewer"]))
    assert roles(ada) == {"search": "viewer"}


def test_mapped_team_that_does_not_exist_is_skipped(idp):
    sso_sign_in(Client(), idp, claims(groups=["slipway-ghost-ds", "slipway-search-viewer"]))
    assert roles(User.objects.get(username="olivia")) == {"search": "viewer"}


def test_deactivated_user_is_refused(idp, ada):
    User.objects.filter(pk=ada.pk).update(is_active=False)
    client = Client()
    response = sso_sign_in(client, idp, claims("ada", groups=["slipway-platform"]))
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    assert not User.objects.get(pk=ada.pk).is_platform


@pytest.mark.parametrize("misbehaviour", ["rogue_key", "audience", "expired", "issuer", "nonce"])
def test_untrustworthy_tokens_are_refused_without_a_server_error(idp, misbehaviour):
    if misbehaviour == "rogue_key":
        idp.rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif misbehaviour == "audience":
        idp.audience = "some-other-client"
    elif misbehaviour == "expired":
        idp.lifetime = -120
    elif misbehaviour == "issuer":
        idp.issuer_override = "http://127.0.0.1:1/evil"
    client = Client()
    response = sso_sign_in(client, idp, claims(groups=["slipway-platform"]), tamper_nonce=misbehaviour == "nonce")
    assert response.status_code == 302 and response["Location"] == "/login/", misbehaviour
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(username="olivia").exists()
    assert AuditEvent.objects.filter(action="auth.sso_failed").count() == 1
    assert "Single sign-on failed" in client.get("/login/").content.decode()


def test_a_code_cannot_be_replayed(idp):
    client = Client()
    start = client.get("/oidc/authenticate/")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    code = idp.authorize(nonce=query["nonce"], claims=claims(groups=["slipway-platform"]))
    assert client.get("/oidc/callback/", {"code": code, "state": query["state"]}).status_code == 302
    attacker = Client()
    # Same state again (consumed from the session) → refused; the IdP also refuses the used code.
    response = attacker.get("/oidc/callback/", {"code": code, "state": query["state"]})
    assert response.status_code in (302, 400)
    assert "_auth_user_id" not in attacker.session


def test_team_group_mapping_parsing():
    grants = parse_team_groups(" a=recsys:viewer, b=recsys:data_scientist ,c=search:viewer,")
    assert roles_from_groups(["a", "b", "c"], grants) == {"recsys": "data_scientist", "search": "viewer"}
    assert roles_from_groups(["a"], grants) == {"recsys": "viewer"}
    for bad in ("a=recsys", "a=recsys:admin", "=recsys:viewer", "a:recsys=viewer"):
        with pytest.raises(ImproperlyConfigured):
            parse_team_groups(bad)
