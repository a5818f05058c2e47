"""`manage.py issue_token USERNAME [--name NAME] [--days N]`: print a new API token.

For bootstrapping automation (CI pipelines, the `slipway` CLI) from a shell on the
server. The token is created by the same service as the Tokens page, so it is hashed,
limited and audited the same way (source "cli").
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.audit import audit_context
from apps.core.errors import DomainError
from apps.core.models import AuditSource
from apps.tenancy.models import User
from apps.tenancy.services import issue_token


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (shown once; only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the token, e.g. 'ci-pipeline' (default: cli).")
        parser.add_argument("--days", type=int, default=None,
                            help="Days until it expires; 0 = never (default: SLIPWAY_TOKEN_DEFAULT_DAYS).")

    def handle(self, *args, username: str, name: str, days: int | None, **options) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named '{username}'.")
        if not user.is_active:
            raise CommandError(f"User '{username}' is deactivated; a token for them would not work.")
        try:
            with audit_context(source=AuditSource.CLI):
                issued = issue_token(user, actor=None, name=name, expires_in_days=days)
        except DomainError as exc:
            raise CommandError(_describe(exc)) from None
        expiry = issued.token.expires_at.strftime("%Y-%m-%d %H:%M UTC") if issued.token.expires_at else "never"
        self.stderr.write(f"Token '{issued.token.name}' for {user.username} (expires {expiry}). "
                          "Copy it now; it is not shown again:")
        self.stdout.write(issued.secret)


def _describe(exc: DomainError) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(f"{field or 'token'}: {message}" for field, _code, message in errors)
    return str(exc)
