"""Lockout after repeated failed sign-ins (django-axes + apps.tenancy.lockout): per username and
address, doubling backoff, audited, and the API's Bearer path untouched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.tenancy.services import issue_token
from tests import factories

LOGIN = "/login/"
ADDRESS = "203.0.113.7"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.SLIPWAY_LOCKOUT_BASE_MINUTES = 5
    settings.SLIPWAY_LOCKOUT_MAX_MINUTES = 60


def attempt(client: Client, username: str, password: str, address: str = ADDRESS):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def age_attempts(minutes: int) -> None:
    """Time passes for the lockout: move every recorded attempt and its expiry back."""
    for row in AccessAttempt.objects.all():
        row.attempt_time -= timedelta(minutes=minutes)
        row.save(update_fields=["attempt_time"])
        if hasattr(row, "expiration"):
            row.expiration.expires_at -= timedelta(minutes=minutes)
            row.expiration.save(update_fields=["expires_at"])


def test_third_failure_locks_the_pair_out_with_a_page_saying_when_to_retry(client, ada):
    for _ in range(2):
        assert attempt(client, "ada", "wrong").status_code == 200
    response = attempt(client, "ada", "wrong")
    assert response.status_code == 429
    assert 280 <= int(response["Retry-After"]) <= 300
    page = response.content.decode()
    assert "Too many failed sign-ins" in page and "about 5 minutes" in page and 'id="lockout"' in page

    # Locked: even the right password is refused, and says so again.
    response = attempt(client, "ada", factories.PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session

    events = AuditEvent.objects.filter(action="auth.locked_out")
    assert events.count() == 1, "one audit event per lockout, not per refused attempt"
    event = events.get()
    assert event.after["username"] == "ada" and event.after["ip_address"] == ADDRESS
    assert event.after["lockout_number"] == 1 and event.after["minutes"] == 5
    assert "wrong" not in str(event.after)


def test_lockout_is_per_username_and_address(client, ada, grace):
    for _ in range(3):
        attempt(client, "ada", "wrong")
    assert attempt(client, "ada", factories.PASSWORD).status_code == 429
    # ada from another address, and grace from the same address, sign in normally.
    other = Client()
    assert attempt(other, "ada", factories.PASSWORD, address="198.51.100.2").status_code == 302
    assert attempt(Client(), "grace", factories.PASSWORD).status_code == 302


def test_backoff_doubles_for_each_further_lockout(client, ada):
    for _ in range(3):
        attempt(client, "ada", "wrong")
    assert attempt(client, "ada", factories.PASSWORD).status_code == 429
    age_attempts(6)  # the 5-minute lockout is over
    assert attempt(client, "ada", "wrong").status_code == 200, "unlocked after the cool-off"
    attempt(client, "ada", "wrong")
    response = attempt(client, "ada", "wrong")
    assert response.status_code == 429
    assert 580 <= int(response["Retry-After"]) <= 600, "second lockout: 10 minutes"
    age_attempts(6)
    assert attempt(client, "ada", factories.PASSWORD).status_code == 429, "still locked after 6 of 10 minutes"
    age_attempts(5)
    assert attempt(client, "ada", factories.PASSWORD).status_code == 302
    numbers = list(AuditEvent.objects.filter(action="auth.locked_out").order_by("id")
                   .values_list("after__lockout_number", "after__minutes"))
    assert numbers == [(1, 5), (2, 10)]


def test_backoff_is_capped(settings, client, ada):
    settings.SLIPWAY_LOCKOUT_MAX_MINUTES = 15
    for expected in (5, 10, 15, 15):
        for _ in range(3):
            attempt(client, "ada", "wrong")
        minutes = AuditEvent.objects.filter(action="auth.locked_out").order_by("-id").first().after["minutes"]
        assert minutes == expected
        age_attempts(expected + 1)


def test_success_before_the_limit_resets_the_count(client, ada):
    attempt(client, "ada", "wrong")
    attempt(client, "ada", "wrong")
    assert attempt(client, "ada", factories.PASSWORD).status_code == 302
    client.post(reverse("tenancy:logout"))
    attempt(client, "ada", "wrong")
    attempt(client, "ada", "wrong")
    assert attempt(client, "ada", factories.PASSWORD).status_code == 302


def test_bearer_tokens_are_not_subject_to_the_sign_in_lockout(client, ada):
    for _ in range(3):
        attempt(client, "ada", "wrong", address="127.0.0.1")
    assert attempt(client, "ada", factories.PASSWORD, address="127.0.0.1").status_code == 429
    secret = issue_token(ada, actor=ada, name="ci").secret
    response = Client().get("/api/v1/me/", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200 and response.json()["username"] == "ada"
    bad = Client().get("/api/v1/me/", headers={"Authorization": "Bearer slw_nope"})
    assert bad.status_code == 401


def test_test_client_login_and_force_login_still_work(client, ada):
    assert client.login(username="ada", password=factories.PASSWORD)
    assert client.get("/").status_code == 200
    other = Client()
    other.force_login(ada)
    assert other.get("/").status_code == 200


def test_lockout_expiry_is_stored_per_pair(client, ada, grace):
    """Another pair's failure must not clean up (unlock) a longer lockout."""
    for _ in range(3):
        attempt(client, "ada", "wrong")
    row = AccessAttempt.objects.get(username="ada")
    assert row.expiration.expires_at > timezone.now() + timedelta(minutes=4)
    age_attempts(2)
    attempt(Client(), "grace", "wrong", address="198.51.100.9")
    assert AccessAttempt.objects.filter(username="ada").exists()
    assert attempt(client, "ada", factories.PASSWORD).status_code == 429


def test_login_page_has_no_sso_button_without_configuration(client, db):
    """SSO is off by default (no OIDC_RP_CLIENT_ID): no /oidc/ routes, no button."""
    page = client.get(LOGIN).content.decode()
    assert 'id="sso-sign-in"' not in page and "/oidc/" not in page
