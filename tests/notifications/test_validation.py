"""Destinations are validated: https in production, no metadata, link-local or (in production) loopback
addresses — literal or behind a DNS name, when saved and again at send time."""

from __future__ import annotations

import pytest

from apps.core.errors import ValidationFailed
from apps.notifications import services
from apps.notifications.models import Delivery, Destination

pytestmark = pytest.mark.django_db


def refused(tenant, actor, **fields) -> tuple[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        services.create_destination(tenant, actor=actor, **{"name": "x", **fields})
    field, code, _message = caught.value.errors[0]
    assert not Destination.objects.exists()
    return field, code


def test_plain_http_is_refused_in_production(recsys, ada, production):
    assert refused(recsys, ada, url="http://hooks.example.com/x") == ("url", "https_required")


@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://169.254.10.1/",
    "https://[fe80::1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://0.0.0.0/",
])
@pytest.mark.parametrize("mode", ["development", "production"])
def test_metadata_and_link_local_addresses_are_always_refused(url, mode, recsys, ada, settings):
    if mode == "production":
        settings.SLIPWAY_NOTIFY_ALLOW_LOOPBACK = False
        settings.SLIPWAY_NOTIFY_ALLOW_HTTP = False
    assert refused(recsys, ada, url=url) == ("url", "address_refused")


@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://127.8.9.10:8443/hook", "https://[::1]/hook",
                                 "https://localhost/hook"])
def test_loopback_is_refused_in_production(url, recsys, ada, production):
    assert refused(recsys, ada, url=url) == ("url", "address_refused")


def test_loopback_and_http_are_allowed_in_development(recsys, ada, receiver, settings):
    settings.SLIPWAY_NOTIFY_ALLOW_LOOPBACK = True
    settings.SLIPWAY_NOTIFY_ALLOW_HTTP = True
    destination, secret = services.create_destination(recsys, actor=ada, name="local", url=receiver.url)
    assert destination.url == receiver.url and secret


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "127.0.0.1", "::1"])
def test_dns_names_resolving_to_refused_addresses_are_refused(address, recsys, ada, production, fake_dns):
    fake_dns["hooks.evil.test"] = ["203.0.113.10", address]  # one bad address among good ones is enough
    field, code = refused(recsys, ada, url="https://hooks.evil.test/slack")
    assert (field, code) == ("url", "address_refused")


def test_an_unresolvable_host_is_refused(recsys, ada):
    assert refused(recsys, ada, url="https://no-such-host.invalid/hook") == ("url", "unresolvable")


@pytest.mark.parametrize("url, code", [
    ("ftp://hooks.example.com/x", "invalid_url"),
    ("hooks.example.com/x", "invalid_url"),
    ("https://user:pw@hooks.example.com/x", "invalid_url"),
    ("https://hooks.example.com:99999/x", "invalid_url"),
    ("https://hooks.example.com/a b", "invalid_url"),
    ("", "required"),
])
def test_malformed_urls_are_refused(url, code, recsys, ada):
    assert refused(recsys, ada, url=url) == ("url", code)


def test_dns_rebinding_after_saving_is_caught_at_send_time(recsys, ada, receiver, fake_dns,
                                                            django_capture_on_commit_callbacks):
    fake_dns["rebind.test"] = ["127.0.0.1"]
    url = f"http://rebind.test:{receiver.port}/hook"
    destination, secret = services.create_destination(recsys, actor=ada, name="rebinding", url=url)
    receiver.secret = secret
    # While the name points at the receiver, Slipway connects to the address it checked,
    # sending the name as Host.
    assert services.send_test(destination, actor=ada).status == "delivered"
    assert receiver.requests[0].headers["Host"] == f"rebind.test:{receiver.port}"
    # The name now points at the metadata service: the next attempt is refused before connecting.
    fake_dns["rebind.test"] = ["169.254.169.254"]
    delivery = services.send_test(destination, actor=ada)
    assert delivery.status == "failed" and delivery.last_status_code is None
    assert "169.254.169.254" in delivery.last_error and "metadata" in delivery.last_error
    assert len(receiver.requests) == 1


def test_updating_the_url_is_checked_too(recsys, ada, receiver, production):
    destination = Destination.objects.create(tenant=recsys, name="legacy", url="https://hooks.example.com/x",
                                             secret="whsec_x")
    with pytest.raises(ValidationFailed) as caught:
        services.update_destination(destination, actor=ada, url="https://169.254.169.254/")
    assert caught.value.errors[0][:2] == ("url", "address_refused")
    destination.refresh_from_db()
    assert destination.url == "https://hooks.example.com/x"


def test_other_fields_are_validated(recsys, ada, receiver):
    assert refused(recsys, ada, url=receiver.url, events=["live", "nope"]) == ("events", "unknown_event")
    assert refused(recsys, ada, url=receiver.url, events=[]) == ("events", "required")
    assert refused(recsys, ada, url=receiver.url, name="  ") == ("name", "required")
    assert refused(recsys, ada, kind="email", email="not-an-address") == ("email", "invalid_email")
    assert refused(recsys, ada, kind="email", email="a@example.com", url=receiver.url) == ("url", "kind_mismatch")
    assert refused(recsys, ada, kind="pigeon", url=receiver.url) == ("kind", "invalid")
    services.create_destination(recsys, actor=ada, name="dup", url=receiver.url)
    with pytest.raises(ValidationFailed) as caught:
        services.create_destination(recsys, actor=ada, name="dup", url=receiver.url)
    assert caught.value.errors[0][:2] == ("name", "name_taken")


def test_email_destinations_go_through_the_mail_backend(recsys, ada, mailoutbox, django_capture_on_commit_callbacks):
    destination, secret = services.create_destination(recsys, actor=ada, name="oncall", kind="email",
                                                      email="ml-oncall@example.com", events=["rolled_back"])
    assert secret is None and destination.secret == ""
    from apps.notifications import payloads

    message = payloads.Message(event="rolled_back", tenant="recsys", summary="ranker v3 in production was rolled back.",
                               url="http://127.0.0.1:8000/deployments/7/", subject="deployment #7",
                               facts={"model": "ranker", "version": 3, "deployment": 7})
    with django_capture_on_commit_callbacks(execute=True):
        services.fan_out(recsys, message)
        message.event = "live"  # not subscribed
        services.fan_out(recsys, message)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["ml-oncall@example.com"]
    assert mail.subject == "[Slipway · recsys] Rolled back"
    assert "ranker v3 in production was rolled back." in mail.body
    assert "Open in Slipway: http://127.0.0.1:8000/deployments/7/" in mail.body
    delivery = Delivery.objects.get()
    assert delivery.status == "delivered" and delivery.kind == "email"
    # The test button works for e-mail too.
    assert services.send_test(destination, actor=ada).status == "delivered"
    assert len(mailoutbox) == 2 and "test" in mailoutbox[1].subject.lower()
    # E-mail has no signing secret to rotate.
    with pytest.raises(ValidationFailed):
        services.rotate_secret(destination, actor=ada)


def test_a_failing_mail_backend_is_retried(recsys, ada, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    destination, _ = services.create_destination(recsys, actor=ada, name="oncall", kind="email",
                                                 email="ml-oncall@example.com")
    delivery = services.send_test(destination, actor=ada)
    assert delivery.status == "failed" and "ConnectionRefused" in delivery.last_error  # a test: one attempt
    from apps.notifications import payloads

    with django_capture_on_commit_callbacks(execute=True):
        services.fan_out(recsys, payloads.Message(event="live", tenant="recsys", summary="live", url="", subject=""))
    pending = Delivery.objects.exclude(pk=delivery.pk).get()
    assert pending.status == "pending" and pending.attempts == 1
