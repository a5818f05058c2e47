"""Receivers can tell Slipway's requests from forgeries and replays (docs/webhooks.md)."""

from __future__ import annotations

import time

import pytest

from apps.notifications import services, signing, transport
from apps.notifications.models import Delivery
from tests.notifications.conftest import verify_signature

pytestmark = pytest.mark.django_db


def test_the_signature_covers_timestamp_and_body(hook, receiver, ada):
    delivery = services.send_test(hook, actor=ada)
    got = receiver.requests[0]
    assert delivery.status == "delivered" and got.verified is True
    header = got.headers["X-Slipway-Signature"]
    t = int(header.split(",")[0].removeprefix("t="))
    assert abs(time.time() - t) < 60
    # The body sent is the exact bytes that were signed: canonical JSON of the stored payload.
    assert got.body == transport.body_bytes(Delivery.objects.get(pk=delivery.pk).payload)
    assert verify_signature(receiver.secret, got.body, header)
    assert signing.verify(receiver.secret, got.body, header)


def test_a_forged_body_or_signature_is_rejected(hook, receiver, ada):
    services.send_test(hook, actor=ada)
    got = receiver.requests[0]
    header = got.headers["X-Slipway-Signature"]
    tampered = got.body.replace(b"recsys", b"search")
    assert not verify_signature(receiver.secret, tampered, header)
    assert not verify_signature("whsec_" + "0" * 64, got.body, header)
    t = header.split(",")[0]
    assert not verify_signature(receiver.secret, got.body, f"{t},v1={'0' * 64}")
    assert not verify_signature(receiver.secret, got.body, "garbage")
    assert not signing.verify(receiver.secret, tampered, header)


def test_a_replayed_request_is_rejected_after_the_tolerance(hook, receiver, ada):
    services.send_test(hook, actor=ada)
    got = receiver.requests[0]
    header = got.headers["X-Slipway-Signature"]
    t = int(header.split(",")[0].removeprefix("t="))
    # The same request, captured and sent again 4 minutes later: still inside the window...
    assert verify_signature(receiver.secret, got.body, header, now=t + 240)
    # ...but 6 minutes later it is refused, though the HMAC itself is valid.
    assert not verify_signature(receiver.secret, got.body, header, now=t + 360)
    assert not signing.verify(receiver.secret, got.body, header, now=t + 360)
    # Re-signing with a fresh timestamp needs the secret, which an attacker does not have.
    fresh = signing.sign("whsec_guess", got.body, int(time.time()))
    assert not verify_signature(receiver.secret, got.body, fresh)


def test_a_receiver_with_the_wrong_secret_answers_401_and_the_test_says_so(hook, receiver, ada):
    receiver.secret = "whsec_not-the-right-one"
    delivery = services.send_test(hook, actor=ada)
    assert receiver.requests[0].verified is False
    assert delivery.status == "failed" and delivery.last_status_code == 401


def test_rotating_the_secret_invalidates_the_old_one(hook, receiver, ada):
    old = receiver.secret
    new = services.rotate_secret(hook, actor=ada)
    assert new != old and new.startswith("whsec_") and len(new) == 6 + 64
    hook.refresh_from_db()
    services.send_test(hook, actor=ada)  # the receiver still expects the old secret
    assert receiver.requests[-1].verified is False
    receiver.secret = new
    assert services.send_test(hook, actor=ada).status == "delivered"
    assert receiver.requests[-1].verified is True
