"""`manage.py issue_token`: prints a working token once, audited; clear errors otherwise."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.tenancy.models import ApiToken
from apps.tenancy.services import authenticate_token


def _run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("issue_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_a_token_that_authenticates_as_the_user(ada):
    out, err = _run("ada", "--name", "ci-pipeline", "--days", "30")
    secret = out.strip()
    assert secret.startswith("slw_") and "\n" not in secret  # stdout is just the token, for $(...)
    token = authenticate_token(secret)
    assert token is not None and token.user == ada and token.name == "ci-pipeline"
    assert timezone.now() + timedelta(days=29) < token.expires_at <= timezone.now() + timedelta(days=30)
    assert "ci-pipeline" in err and "ada" in err and "not shown again" in err
    assert secret not in err
    # only the hash is stored
    assert not ApiToken.objects.filter(secret_hash=secret).exists()


def test_issuing_is_audited_as_a_command_line_action(ada):
    _run("ada")
    event = AuditEvent.objects.get(action="token.created")
    assert event.source == "cli"
    assert event.after["user"] == "ada" and event.after["name"] == "cli"


def test_days_zero_means_no_expiry_and_default_uses_the_setting(ada, settings):
    _run("ada", "--name", "forever", "--days", "0")
    assert ApiToken.objects.get(name="forever").expires_at is None
    settings.SLIPWAY_TOKEN_DEFAULT_DAYS = 7
    _run("ada", "--name", "default")
    expires = ApiToken.objects.get(name="default").expires_at
    assert timezone.now() + timedelta(days=6) < expires <= timezone.now() + timedelta(days=7)


def test_unknown_user_is_a_clear_error_and_creates_nothing(db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        _run("nobody")
    assert ApiToken.objects.count() == 0


def test_invalid_expiry_names_the_rule(ada):
    with pytest.raises(CommandError, match="expires_in_days: Expiry must be between 0"):
        _run("ada", "--days", "1000")
    assert ApiToken.objects.count() == 0


def test_blank_name_is_refused(ada):
    with pytest.raises(CommandError, match="name: Give the token a name"):
        _run("ada", "--name", "  ")


def test_deactivated_user_gets_no_token(ada):
    ada.is_active = False
    ada.save()
    with pytest.raises(CommandError, match="deactivated"):
        _run("ada")
