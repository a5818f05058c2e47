"""Retries with exponential backoff: 5xx, timeouts and 408/429 are retried; other 4xx and 3xx give up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notifications import services
from apps.notifications.choices import DeliveryStatus
from apps.notifications.models import Delivery, DeliveryAttempt
from worker.tasks import deliver_notification, retry_notifications

pytestmark = pytest.mark.django_db


def _deliver_one(hook, django_capture_on_commit_callbacks, recsys):
    """An event to `hook`, first attempt made by the task (eager) after commit."""
    from apps.notifications import payloads

    message = payloads.Message(event="live", tenant=recsys.slug, summary="ranker v3 is live in staging.",
                               url="http://127.0.0.1:8000/deployments/1/", subject="deployment #1")
    with django_capture_on_commit_callbacks(execute=True):
        services.fan_out(recsys, message)
    return Delivery.objects.get()


def test_the_backoff_schedule_is_30s_2min_10min_1h_then_give_up():
    assert [services.next_attempt_delay(n) for n in range(1, 6)] == [30, 120, 600, 3600, None]
    start = timezone.now()
    offsets = [(t - start).total_seconds() for t in services.attempt_schedule(start)]
    assert offsets == [0, 30, 150, 750, 4350]
    # A Retry-After stretches the wait, capped at the longest backoff.
    assert services.next_attempt_delay(1, retry_after=90) == 90
    assert services.next_attempt_delay(1, retry_after=10) == 30
    assert services.next_attempt_delay(1, retry_after=10**6) == 3600


def test_500_then_200_is_delivered_on_the_second_attempt_after_30_seconds(hook, receiver, recsys,
                                                                         django_capture_on_commit_callbacks):
    receiver.script(500, 200)
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
    first_at = DeliveryAttempt.objects.get(delivery=delivery, number=1).created_at
    assert delivery.next_attempt_at == first_at + timedelta(seconds=30)
    # Not due yet: nothing is sent.
    assert services.attempt_delivery(delivery.pk, now=first_at + timedelta(seconds=29)) is None
    assert services.due_deliveries(now=first_at + timedelta(seconds=29)) == []
    assert services.due_deliveries(now=first_at + timedelta(seconds=30)) == [delivery.pk]
    done = services.attempt_delivery(delivery.pk, now=first_at + timedelta(seconds=31))
    assert done.status == DeliveryStatus.DELIVERED and done.attempts == 2 and done.last_status_code == 200
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("number", "outcome", "status_code"))
    assert attempts == [(1, "retry", 500), (2, "delivered", 200)]
    # Both requests carried the same delivery id (receivers de-duplicate on it), both signed.
    assert [r.headers["X-Slipway-Delivery"] for r in receiver.requests] == [str(delivery.pk)] * 2
    assert all(r.verified for r in receiver.requests)
    # Delivered: running the task again sends nothing more.
    assert deliver_notification.apply(args=[delivery.pk]).get() == "not due"
    assert len(receiver.requests) == 2


def test_a_receiver_that_keeps_failing_gets_five_attempts_then_the_delivery_fails(
        hook, receiver, recsys, django_capture_on_commit_callbacks):
    receiver.script(*[503] * 10)
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    gaps = []
    for _ in range(10):  # the beat task, run whenever the next attempt is due
        delivery.refresh_from_db()
        if delivery.status != DeliveryStatus.PENDING:
            break
        last = DeliveryAttempt.objects.filter(delivery=delivery).latest("number")
        gaps.append(round((delivery.next_attempt_at - last.created_at).total_seconds()))
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # the wait has passed
        assert retry_notifications.apply().get() == 1
    delivery.refresh_from_db()
    assert gaps == [30, 120, 600, 3600]
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 5 and delivery.next_attempt_at is None
    assert len(receiver.requests) == 5
    assert list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("outcome", flat=True)) == \
        ["retry"] * 4 + ["failed"]
    assert retry_notifications.apply().get() == 0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_a_4xx_gives_up_at_once(status, hook, receiver, recsys, django_capture_on_commit_callbacks):
    receiver.script(status)
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.last_status_code == status and delivery.response_excerpt == f"receiver says {status}"
    assert services.due_deliveries(now=timezone.now() + timedelta(days=1)) == []


@pytest.mark.parametrize("status", [408, 429, 500, 502])
def test_408_429_and_5xx_are_retried(status, hook, receiver, recsys, django_capture_on_commit_callbacks):
    receiver.script(status)
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == status


def test_429_retry_after_is_honoured(hook, receiver, recsys, django_capture_on_commit_callbacks):
    receiver.script(429)
    receiver.extra_headers = {"Retry-After": "300"}
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    first = DeliveryAttempt.objects.get(delivery=delivery)
    assert delivery.next_attempt_at == first.created_at + timedelta(seconds=300)


def test_a_redirect_is_not_followed(hook, receiver, recsys, django_capture_on_commit_callbacks):
    receiver.script(302)
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code == 302
    assert len(receiver.requests) == 1


def test_a_slow_receiver_times_out_and_is_retried(hook, receiver, recsys, settings,
                                                  django_capture_on_commit_callbacks):
    settings.SLIPWAY_NOTIFY_TIMEOUT_SECONDS = 0.5
    receiver.delay = 2.0
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code is None
    assert delivery.last_error == "Timed out after 0.5 s"
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert 400 <= attempt.duration_ms < 1900


def test_a_refused_connection_is_retried(hook, recsys, receiver, django_capture_on_commit_callbacks):
    from apps.notifications.models import Destination

    # Nothing listens on port 9 of 127.0.0.1 (discard); the address itself is allowed in development.
    Destination.objects.filter(pk=hook.pk).update(url="http://127.0.0.1:9/hook")
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    assert delivery.status == DeliveryStatus.PENDING and "ConnectionRefused" in delivery.last_error


def test_a_claimed_delivery_is_not_sent_twice(hook, receiver, recsys, django_capture_on_commit_callbacks):
    receiver.script(500)
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    due = delivery.next_attempt_at + timedelta(seconds=1)
    # A worker claims it (the claim moves next_attempt_at forward by the lease)...
    assert Delivery.objects.filter(pk=delivery.pk, next_attempt_at__lte=due).update(
        attempts=2, next_attempt_at=due + timedelta(seconds=services.LEASE_SECONDS)) == 1
    # ...so a duplicate message for the same delivery does nothing.
    assert services.attempt_delivery(delivery.pk, now=due) is None
    assert len(receiver.requests) == 1


def test_a_disabled_or_deleted_destination_ends_pending_retries(hook, receiver, recsys, ada,
                                                                django_capture_on_commit_callbacks):
    receiver.script(500)
    delivery = _deliver_one(hook, django_capture_on_commit_callbacks, recsys)
    services.update_destination(hook, actor=ada, enabled=False)
    later = delivery.next_attempt_at + timedelta(seconds=1)
    done = services.attempt_delivery(delivery.pk, now=later)
    assert done.status == DeliveryStatus.FAILED and done.last_error == "The destination is disabled."
    assert len(receiver.requests) == 1
