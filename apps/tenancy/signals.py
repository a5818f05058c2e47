"""Sign-in events go to the audit log (SPEC §6: login is security-relevant)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.core import audit


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    audit.record("auth.login", actor=user, object_repr=user.get_username())


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record("auth.logout", actor=user, object_repr=user.get_username())


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    audit.record("auth.login_failed", actor=None, actor_label=username or "anonymous",
                 object_repr=username, after={"username": username})
