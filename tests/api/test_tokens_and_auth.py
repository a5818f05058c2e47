"""Personal API tokens (`/api/v1/tokens/`), Bearer authentication and rate limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.tenancy.models import ApiToken
from apps.tenancy.services import issue_token
from tests.api.conftest import JsonClient, assert_problem

pytestmark = pytest.mark.django_db

URL = "/api/v1/tokens/"


# --- tokens ---------------------------------------------------------------------------

def test_create_shows_the_secret_once(as_user, ada):
    client = as_user(ada)
    response = client.post(URL, {"name": "ci-pipeline", "expires_in_days": 30})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith("slw_") and body["active"] is True and body["name"] == "ci-pipeline"
    token = ApiToken.objects.get(pk=body["id"])
    assert token.user == ada and body["token"] not in token.secret_hash
    assert 29 <= (token.expires_at - timezone.now()).days <= 30
    listed = client.get(URL).json()
    assert listed["count"] == 1 and "token" not in listed["results"][0]
    assert AuditEvent.objects.filter(action="token.created", actor_id=ada.pk).count() == 1
    # The secret works as a Bearer token.
    assert JsonClient(token=body["token"]).get("/api/v1/me/").json()["username"] == "ada"


def test_viewers_may_have_tokens_too(as_user, vera):
    assert as_user(vera).post(URL, {"name": "reader"}).status_code == 201


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": 7}, "name"),
    ({"name": "a\x00b"}, "name"),
    ({"name": "ok", "expires_in_days": -1}, "expires_in_days"),
    ({"name": "ok", "expires_in_days": 10_000}, "expires_in_days"),
    ({"name": "ok", "expires_in_days": "soon"}, "expires_in_days"),
    ({"name": "ok", "user": 1}, "user"),
])
def test_bad_token_requests_are_400_naming_the_field(as_user, ada, body, field):
    client = as_user(ada)
    events = AuditEvent.objects.count()
    assert_problem(client.post(URL, body), 400, field=field)
    assert ApiToken.objects.count() == 0 and AuditEvent.objects.count() == events


def test_list_shows_only_my_tokens(as_user, ada, grace):
    issue_token(grace, actor=grace, name="grace-ci")
    issue_token(ada, actor=ada, name="ada-ci")
    assert [t["name"] for t in as_user(ada).get(URL).json()["results"]] == ["ada-ci"]


def test_revoke_my_token(as_user, ada):
    issued = issue_token(ada, actor=ada, name="old")
    response = as_user(ada).delete(f"{URL}{issued.token.pk}/")
    assert response.status_code == 204
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoked", object_id=str(issued.token.pk)).count() == 1
    assert_problem(JsonClient(token=issued.secret).get("/api/v1/me/"), 401)


def test_revoking_someone_elses_token_is_404(as_user, ada, grace, linus):
    issued = issue_token(grace, actor=grace, name="grace-ci")
    for user in (ada, linus):  # not even platform engineers revoke another person's token here
        client = as_user(user)
        events = AuditEvent.objects.count()
        assert_problem(client.delete(f"{URL}{issued.token.pk}/"), 404)
        assert AuditEvent.objects.count() == events
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_anonymous_cannot_list_or_create(as_user):
    assert_problem(as_user(None).get(URL), 401)
    assert_problem(as_user(None).post(URL, {"name": "x"}), 401)
    assert ApiToken.objects.count() == 0


# --- Bearer authentication ------------------------------------------------------------

def test_valid_bearer_token_acts_as_its_user(bearer, ada, ranker, finder):
    client = bearer(ada)
    body = client.get("/api/v1/me/").json()
    assert body["username"] == "ada" and body["authenticated_by"] == "token"
    assert [m["name"] for m in client.get("/api/v1/models/").json()["results"]] == ["ranker"]
    assert_problem(client.get(f"/api/v1/models/{finder.pk}/"), 404)


def test_bearer_writes_are_audited_with_source_api(bearer, ada, recsys):
    response = bearer(ada).post("/api/v1/models/", {"tenant": "recsys", "name": "via-token"})
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="model.created")
    assert event.actor == ada and event.source == "api"


def test_bearer_token_of_a_viewer_cannot_write(bearer, vera, ranker):
    assert_problem(bearer(vera).patch(f"/api/v1/models/{ranker.pk}/", {"owner": "x"}), 403)


def test_revoked_token_is_401(bearer, ada):
    client = bearer(ada)
    client.token.revoked_at = timezone.now()
    client.token.save()
    response = client.get("/api/v1/me/")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


def test_expired_token_is_401(bearer, ada):
    client = bearer(ada)
    ApiToken.objects.filter(pk=client.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_problem(client.get("/api/v1/me/"), 401)


def test_token_of_a_deactivated_user_is_401(bearer, ada):
    client = bearer(ada)
    ada.is_active = False
    ada.save()
    assert_problem(client.get("/api/v1/me/"), 401)


@pytest.mark.parametrize("header", [
    "Bearer garbage", "Bearer slw_", "Bearer slw_deadbeef_wrongsecret", "Bearer slw__x", "Bearer a b",
    "Bearer " + "x" * 5000, "Bearer slw_" + "9" * 40 + "_x",
])
def test_garbage_tokens_are_401(ada, header):
    assert_problem(JsonClient().get("/api/v1/me/", headers={"Authorization": header}), 401)


def test_a_tampered_secret_with_a_real_prefix_is_401(bearer, ada):
    client = bearer(ada)
    tampered = client.secret[:-4] + ("aaaa" if not client.secret.endswith("aaaa") else "bbbb")
    assert_problem(JsonClient(token=tampered).get("/api/v1/me/"), 401)


# --- rate limits ----------------------------------------------------------------------

def test_per_token_limit_answers_429_with_retry_after(bearer, ada, settings, recsys):
    settings.SLIPWAY_TOKEN_RATE_PER_MINUTE = 3
    client = bearer(ada)
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/api/v1/me/")
    body = assert_problem(response, 429)
    assert 1 <= int(response["Retry-After"]) <= 60 and body["retry_after"] == int(response["Retry-After"])
    # Another token of the same user has its own budget (the tenant's limit is far away).
    assert bearer(ada).get("/api/v1/me/").status_code == 200


def test_per_tenant_limit_counts_every_member(as_user, ada, recsys, search, grace):
    recsys.rate_limit_per_minute = 4
    recsys.save()
    from tests import factories

    bob = factories.user("bob", tenant=recsys)
    ada_client, bob_client, grace_client = as_user(ada), as_user(bob), as_user(grace)
    codes = [c.get("/api/v1/models/").status_code for c in (ada_client, bob_client, ada_client, bob_client)]
    assert codes == [200, 200, 200, 200]
    response = ada_client.get("/api/v1/models/")
    assert_problem(response, 429)
    assert int(response["Retry-After"]) >= 1
    assert_problem(bob_client.get("/api/v1/models/"), 429)
    # Another team is not affected.
    assert grace_client.get("/api/v1/models/").status_code == 200


def test_rate_limited_write_writes_nothing(bearer, ada, settings, recsys):
    settings.SLIPWAY_TOKEN_RATE_PER_MINUTE = 1
    client = bearer(ada)
    client.get("/api/v1/me/")
    events = AuditEvent.objects.count()
    assert_problem(client.post("/api/v1/models/", {"tenant": "recsys", "name": "late"}), 429)
    assert AuditEvent.objects.count() == events
