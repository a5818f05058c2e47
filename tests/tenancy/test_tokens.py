"""tenancy.services: personal API tokens — issue, revoke, authenticate."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import NotFound, NotPermitted, ValidationFailed
from apps.core.models import AuditEvent
from apps.tenancy import services
from apps.tenancy.models import ApiToken


def test_issued_token_stores_only_the_hash_and_shows_the_secret_once(ada):
    issued = services.issue_token(ada, actor=ada, name="ci-pipeline")

    row = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.secret.startswith(f"slw_{row.prefix}_") and len(issued.secret) > 40
    assert row.secret_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    stored = json.dumps(list(ApiToken.objects.filter(pk=row.pk).values()), default=str)
    assert issued.secret not in stored and issued.secret.split("_", 2)[2] not in stored
    assert not hasattr(row, "secret")
    event = AuditEvent.objects.get(action="token.created")
    assert event.actor_id == ada.pk and event.after["prefix"] == row.prefix and event.after["name"] == "ci-pipeline"
    assert issued.secret.split("_", 2)[2] not in json.dumps(event.after)


def test_each_token_gets_its_own_prefix_and_secret(ada):
    a = services.issue_token(ada, actor=ada, name="a")
    b = services.issue_token(ada, actor=ada, name="b")
    assert a.token.prefix != b.token.prefix and a.secret != b.secret


def test_authenticate_finds_the_token_by_prefix_and_stamps_last_use(ada):
    issued = services.issue_token(ada, actor=ada, name="ci")
    token = services.authenticate_token(issued.secret)
    assert token.pk == issued.token.pk and token.user == ada
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(("days", "expected_days"), [(None, 90), (1, 1), (366, 366), (0, None)])
def test_expiry_default_bounds_and_never(ada, settings, days, expected_days):
    settings.SLIPWAY_TOKEN_DEFAULT_DAYS = 90
    token = services.issue_token(ada, actor=ada, name="ci", expires_in_days=days).token
    if expected_days is None:
        assert token.expires_at is None
    else:
        assert abs(token.expires_at - (timezone.now() + timedelta(days=expected_days))) < timedelta(minutes=1)


@pytest.mark.parametrize(("fields", "field", "code"), [
    ({"name": ""}, "name", "token_name_required"), ({"name": "   "}, "name", "token_name_required"),
    ({"name": None}, "name", "token_name_required"), ({"name": "n" * 101}, "name", "max_length"),
    ({"name": "ci\x00"}, "name", "null_characters"), ({"name": 42}, "name", "invalid"),
    ({"expires_in_days": -1}, "expires_in_days", "token_expiry_invalid"),
    ({"expires_in_days": 367}, "expires_in_days", "token_expiry_invalid"),
    ({"expires_in_days": "30"}, "expires_in_days", "token_expiry_invalid"),
    ({"expires_in_days": True}, "expires_in_days", "token_expiry_invalid"),
    ({"expires_in_days": 1.5}, "expires_in_days", "token_expiry_invalid"),
])
def test_issue_refuses_bad_names_and_expiry(ada, fields, field, code):
    values = {"name": "ci", **fields}
    with pytest.raises(ValidationFailed) as caught:
        services.issue_token(ada, actor=ada, **values)
    assert (field, code) in {(f, c) for f, c, _ in caught.value.errors}
    assert not ApiToken.objects.exists() and not AuditEvent.objects.exists()


def test_active_token_limit_counts_only_active_tokens(ada, monkeypatch):
    monkeypatch.setattr(services, "MAX_ACTIVE_TOKENS", 3)
    tokens = [services.issue_token(ada, actor=ada, name=f"t{i}").token for i in range(3)]
    with pytest.raises(ValidationFailed) as caught:
        services.issue_token(ada, actor=ada, name="one-too-many")
    assert caught.value.code == "token_limit"
    # a revoked and an expired token free their places
    services.revoke_token(tokens[0], actor=ada)
    ApiToken.objects.filter(pk=tokens[1].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.issue_token(ada, actor=ada, name="t3")
    services.issue_token(ada, actor=ada, name="t4")
    with pytest.raises(ValidationFailed):
        services.issue_token(ada, actor=ada, name="t5")


def test_the_limit_is_per_user(ada, grace, monkeypatch):
    monkeypatch.setattr(services, "MAX_ACTIVE_TOKENS", 1)
    services.issue_token(ada, actor=ada, name="a")
    services.issue_token(grace, actor=grace, name="g")
    assert ApiToken.objects.count() == 2


def test_platform_engineer_and_the_system_may_issue_for_others(ada, linus):
    assert services.issue_token(ada, actor=linus, name="by-linus").token.user == ada
    assert services.issue_token(ada, actor=None, name="by-cli").token.user == ada


def test_a_member_cannot_issue_a_token_for_someone_else(ada, vera):
    with pytest.raises(NotPermitted):
        services.issue_token(vera, actor=ada, name="sneaky")
    assert not ApiToken.objects.exists()


def test_revoke_is_idempotent_and_audited_once(ada):
    issued = services.issue_token(ada, actor=ada, name="ci")

    first = services.revoke_token(issued.token, actor=ada)
    revoked_at = first.revoked_at
    second = services.revoke_token(issued.token, actor=ada)

    assert revoked_at is not None and second.revoked_at == revoked_at
    event = AuditEvent.objects.get(action="token.revoked")
    assert event.before == {"revoked_at": None} and event.actor_id == ada.pk
    assert services.authenticate_token(issued.secret) is None


def test_someone_elses_token_is_not_found_but_platform_may_revoke_it(ada, grace, linus):
    token = services.issue_token(grace, actor=grace, name="g").token
    with pytest.raises(NotFound):
        services.revoke_token(token, actor=ada)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    services.revoke_token(token, actor=linus)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_revoking_a_deleted_token_is_not_found(ada):
    token = services.issue_token(ada, actor=ada, name="ci").token
    ApiToken.objects.filter(pk=token.pk).delete()
    with pytest.raises(NotFound):
        services.revoke_token(token, actor=ada)


def test_expired_token_does_not_authenticate(ada):
    issued = services.issue_token(ada, actor=ada, name="ci", expires_in_days=1)
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.authenticate_token(issued.secret) is None


def test_token_of_a_deactivated_user_does_not_authenticate(ada):
    issued = services.issue_token(ada, actor=ada, name="ci")
    ada.is_active = False
    ada.save()
    assert services.authenticate_token(issued.secret) is None


def _garbage(secret: str, prefix: str) -> list:
    body = secret.split("_", 2)[2]
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    return [
        "", "garbage", "slw_", "slw__", f"slw_{prefix}", f"slw_{prefix}_", f"slw_{prefix}_{flipped}",
        secret + "x", secret.upper(), f"Bearer {secret}", f" {secret}", f"slw_{prefix}\x00_{body}",
        f"slw_{prefix}_{body}\x00", f"slw_{'0' * 17}_{body}", "slw_zzzzzzzz_" + body, secret.replace("slw_", "sk_"),
        "slw_" + prefix + "_" + "é" * 43, "x" * 10_000, None, 12345, b"slw_bytes",
    ]


def test_garbage_never_authenticates(ada):
    issued = services.issue_token(ada, actor=ada, name="ci")
    for raw in _garbage(issued.secret, issued.token.prefix):
        assert services.authenticate_token(raw) is None, repr(raw)[:60]
    assert services.authenticate_token(issued.secret) is not None


def test_token_acts_as_its_user(ada, recsys, search):
    token = services.authenticate_token(services.issue_token(ada, actor=ada, name="ci").secret)
    assert token.user.can("change", recsys.pk) and not token.user.can("view", search.pk)

