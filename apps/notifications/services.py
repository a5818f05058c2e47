"""Notifications: destinations (webhook or e-mail per team), the events that fan out to them, and delivery.

Entry points called by other apps after their transaction commits (each never raises — a
notification problem must not break a rollout, a drift run or a cost job):

- `notify_deployment(deployment_id, event)` (apps.deployments, the rollout engine),
- `notify_drift(report_id)` (apps.drift, medium/high),
- `notify_cost(event, obj_id)` (apps.costs: "cost_anomaly" → CostAnomaly id, "budget_threshold" →
  BudgetAlert id), with `notify_cost_anomaly(id)` and `notify_budget(id)` as named shortcuts.

Each creates one Delivery per enabled destination of the team subscribed to the event and
enqueues `deliver_notification(delivery_id)` on commit. `attempt_delivery` makes one attempt:
2xx delivered; 3xx and 4xx (except 408, 429) failed at once; anything else (5xx, timeouts,
refused connections, 408, 429) retried after 30 s, 2 min, 10 min, 1 h (SLIPWAY_NOTIFY_BACKOFF_SECONDS),
at most SLIPWAY_NOTIFY_MAX_ATTEMPTS attempts. Retries are level-triggered: the row holds
`next_attempt_at` and the beat task `retry_notifications` enqueues due rows, so no retry waits
in the broker for an hour (longer than Redis' visibility timeout) and none is lost when a
worker dies.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.core import audit
from apps.core.access import require
from apps.core.errors import CoreErrorCode as Core
from apps.core.errors import ValidationFailed
from apps.notifications import addresses, payloads, signing, transport
from apps.notifications.choices import SUBSCRIBABLE, AttemptOutcome, DeliveryStatus, DestinationKind, Event
from apps.notifications.errors import NotificationErrorCode as Code
from apps.notifications.models import Delivery, DeliveryAttempt, Destination

log = logging.getLogger(__name__)

WHAT = "notification destination"
# A claimed attempt holds its row this long: longer than one attempt can take (timeout + e-mail),
# so a second worker never sends the same delivery concurrently; after a crash it is retried.
LEASE_SECONDS = 120
TEAM_WEBHOOK_NAME = "Team webhook"


# --- destinations ------------------------------------------------------------------------------

def _clean_name(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed([("name", Core.REQUIRED, "Give the destination a name, e.g. “#ml-alerts”.")])
    value = value.strip()
    if len(value) > 100 or "\x00" in value:
        raise ValidationFailed([("name", Core.INVALID, "Use at most 100 printable characters.")])
    return value


def _clean_events(value) -> list[str]:
    if value is None:
        return list(SUBSCRIBABLE)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed([("events", Core.INVALID, "Give a list of event names.")])
    unknown = sorted(set(value) - set(SUBSCRIBABLE))
    if unknown:
        raise ValidationFailed([("events", Code.UNKNOWN_EVENT,
                                 f"Unknown event(s): {', '.join(u[:40] for u in unknown[:5])}. "
                                 f"Known: {', '.join(SUBSCRIBABLE)}.")])
    if not value:
        raise ValidationFailed([("events", Core.REQUIRED,
                                 "Choose at least one event (disable the destination to pause it).")])
    return [e for e in SUBSCRIBABLE if e in set(value)]


def _clean_target(kind: str, url, email) -> tuple[str, str]:
    """Check the URL (https, resolvable, no internal address) or the e-mail address of `kind`."""
    url = url or ""
    email = email or ""
    if kind == DestinationKind.WEBHOOK:
        if email:
            raise ValidationFailed([("email", Code.KIND_MISMATCH, "A webhook destination has a URL, not an e-mail.")])
        if not url:
            raise ValidationFailed([("url", Core.REQUIRED, "Give the webhook URL (https://…).")])
        addresses.check_url(url, field="url")
        return url, ""
    if kind == DestinationKind.EMAIL:
        if url:
            raise ValidationFailed([("url", Code.KIND_MISMATCH, "An e-mail destination has an address, not a URL.")])
        if not isinstance(email, str) or not email:
            raise ValidationFailed([("email", Core.REQUIRED, "Give the e-mail address.")])
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationFailed([("email", Code.INVALID_EMAIL, "Enter a valid e-mail address.")]) from None
        return "", email.strip()
    raise ValidationFailed([("kind", Core.INVALID, "Use 'webhook' or 'email'.")])


def _snapshot(destination: Destination) -> dict:
    """What the audit log records of a destination (never the secret)."""
    return {"name": destination.name, "kind": destination.kind, "url": destination.url, "email": destination.email,
            "enabled": destination.enabled, "events": list(destination.events or [])}


def _name_taken() -> ValidationFailed:
    return ValidationFailed([("name", Code.NAME_TAKEN, "This team already has a destination with that name.")])


def create_destination(tenant, *, actor, name, kind=DestinationKind.WEBHOOK, url="", email="", events=None,
                       enabled: bool = True) -> tuple[Destination, str | None]:
    """Add a webhook or e-mail destination to `tenant`; returns it and its signing secret (webhooks).

    Data scientists of the team and platform engineers only (viewers 403, other teams 404).
    The URL must be https (outside development) and resolve only to addresses Slipway may call.
    The secret is returned here once and never again (rotate to get a new one).
    """
    require(actor, "change", tenant.pk, what=WHAT)
    name = _clean_name(name)
    events = _clean_events(events)
    url, email = _clean_target(kind, url, email)
    if not isinstance(enabled, bool):
        raise ValidationFailed([("enabled", Core.INVALID, "Must be true or false.")])
    secret = signing.new_secret() if kind == DestinationKind.WEBHOOK else ""
    try:
        with transaction.atomic():
            destination = Destination.objects.create(
                tenant=tenant, name=name, kind=kind, url=url, email=email, secret=secret, enabled=enabled,
                events=events, created_by=actor if getattr(actor, "is_authenticated", False) else None,
                secret_rotated_at=timezone.now() if secret else None)
            audit.record("notification.destination_created", actor=actor, tenant=tenant, obj=destination,
                         after=_snapshot(destination))
    except IntegrityError:
        raise _name_taken() from None
    return destination, secret or None


UPDATABLE = ("name", "url", "email", "events", "enabled")


def update_destination(destination: Destination, *, actor, **changes) -> Destination:
    """Change name, URL/address, events or enabled; the URL is checked again. The kind never changes."""
    require(actor, "change", destination.tenant_id, what=WHAT)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise ValidationFailed([(unknown[0], Core.INVALID, "This field cannot be changed.")])
    with transaction.atomic():
        locked = Destination.objects.select_for_update().select_related("tenant").get(pk=destination.pk)
        before = _snapshot(locked)
        if "name" in changes:
            locked.name = _clean_name(changes["name"])
        if "events" in changes:
            locked.events = _clean_events(changes["events"])
        if "enabled" in changes:
            if not isinstance(changes["enabled"], bool):
                raise ValidationFailed([("enabled", Core.INVALID, "Must be true or false.")])
            locked.enabled = changes["enabled"]
        if "url" in changes or "email" in changes:
            locked.url, locked.email = _clean_target(locked.kind, changes.get("url", locked.url),
                                                     changes.get("email", locked.email))
        after = _snapshot(locked)
        if after == before:
            return locked
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise _name_taken() from None
        audit.record("notification.destination_updated", actor=actor, tenant=locked.tenant_id, obj=locked,
                     before={k: v for k, v in before.items() if after[k] != v},
                     after={k: v for k, v in after.items() if before[k] != v})
    return locked


def delete_destination(destination: Destination, *, actor) -> None:
    """Remove a destination; its delivery log stays (deliveries keep its name and target)."""
    require(actor, "change", destination.tenant_id, what=WHAT)
    with transaction.atomic():
        audit.record("notification.destination_deleted", actor=actor, tenant=destination.tenant_id, obj=destination,
                     before=_snapshot(destination))
        Destination.objects.filter(pk=destination.pk).delete()


def rotate_secret(destination: Destination, *, actor) -> str:
    """A new signing secret for a webhook, returned once; the old one stops working at once."""
    require(actor, "change", destination.tenant_id, what=WHAT)
    if destination.kind != DestinationKind.WEBHOOK:
        raise ValidationFailed([("kind", Code.KIND_MISMATCH, "E-mail destinations have no signing secret.")])
    secret = signing.new_secret()
    with transaction.atomic():
        Destination.objects.filter(pk=destination.pk).update(secret=secret, secret_rotated_at=timezone.now(),
                                                             updated_at=timezone.now())
        audit.record("notification.secret_rotated", actor=actor, tenant=destination.tenant_id, obj=destination)
    destination.secret = secret
    return secret


def send_test(destination: Destination, *, actor) -> Delivery:
    """Send a test message to `destination` now (one attempt, no retries) and return its delivery.

    Works on a disabled destination too, so it can be checked before it is switched on.
    """
    require(actor, "change", destination.tenant_id, what=WHAT)
    message = payloads.test_message(destination, actor)
    with transaction.atomic():
        delivery = _create_delivery(destination, message, max_attempts=1)
    attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    audit.record("notification.test_sent", actor=actor, tenant=destination.tenant_id, obj=destination,
                 after={"delivery": delivery.pk, "status": delivery.status, "status_code": delivery.last_status_code,
                        "error": delivery.last_error})
    return delivery


# --- events → deliveries -----------------------------------------------------------------------

def _create_delivery(destination: Destination, message: payloads.Message, *, max_attempts: int | None = None
                     ) -> Delivery:
    payload = payloads.webhook_payload(message)
    delivery = Delivery.objects.create(
        tenant_id=destination.tenant_id, destination=destination, destination_name=destination.name,
        kind=destination.kind, target=destination.target[:500], event=message.event, subject=message.subject[:200],
        payload=payload, max_attempts=max_attempts or settings.SLIPWAY_NOTIFY_MAX_ATTEMPTS,
        next_attempt_at=timezone.now())
    return delivery


def _enqueue(delivery_id: int) -> None:
    def send():
        from worker.tasks import deliver_notification

        try:
            deliver_notification.delay(delivery_id)
        except Exception:  # broker down: the row is due, `retry_notifications` picks it up
            log.exception("could not enqueue delivery %s; the retry sweep will send it", delivery_id)

    transaction.on_commit(send)


def adopt_team_webhook(tenant) -> Destination | None:
    """Tenant.webhook_url (the team setting that predates destinations) as a destination of all events.

    Created once, the first time an event needs it, with a fresh secret (rotate it on the
    notifications page to read it). A URL the address guard refuses is skipped and logged.
    """
    url = tenant.webhook_url
    if not url or Destination.objects.filter(tenant=tenant, kind=DestinationKind.WEBHOOK, url=url).exists():
        return None
    name = TEAM_WEBHOOK_NAME
    if Destination.objects.filter(tenant=tenant, name=name).exists():
        name = f"{TEAM_WEBHOOK_NAME} ({timezone.now():%Y-%m-%d %H:%M:%S})"
    try:
        destination, _ = create_destination(tenant, actor=None, name=name, url=url)
    except ValidationFailed as exc:
        log.warning("team %s: webhook_url not used for notifications: %s", tenant.slug, exc.message)
        return None
    return destination


def fan_out(tenant, message: payloads.Message) -> list[Delivery]:
    """One delivery per enabled destination of `tenant` subscribed to the event; sent after commit."""
    adopt_team_webhook(tenant)
    created = []
    with transaction.atomic():
        for destination in Destination.objects.filter(tenant=tenant, enabled=True).order_by("pk"):
            if destination.wants(message.event):
                delivery = _create_delivery(destination, message)
                _enqueue(delivery.pk)
                created.append(delivery)
    return created


def _safely(kind: str, ident, build) -> list[Delivery]:
    """Run a notification entry point without ever raising into the caller's flow."""
    try:
        found = build()
        if found is None:
            log.info("notification %s for %s skipped: object not found", kind, ident)
            return []
        tenant, message = found
        return fan_out(tenant, message)
    except Exception:
        log.exception("notification %s for %s failed", kind, ident)
        return []


def notify_deployment(deployment_id: int, event: str) -> list[Delivery]:
    """Tell the deployment's team that it changed (approval needed, approved, live, rolled back, ...)."""
    def build():
        from apps.deployments.models import Deployment

        if event not in SUBSCRIBABLE:
            log.warning("unknown deployment event %r", event)
            return None
        deployment = (Deployment.objects.select_related("tenant", "model", "version", "environment", "requested_by")
                      .filter(pk=deployment_id).first())
        return None if deployment is None else (deployment.tenant, payloads.deployment_message(deployment, event))

    return _safely(event, f"deployment {deployment_id}", build)


def notify_drift(report_id: int) -> list[Delivery]:
    """Tell the model's team about a medium or high drift report (lower severities are not sent)."""
    def build():
        from apps.drift.models import DriftReport

        report = DriftReport.objects.select_related("model__tenant", "version").filter(pk=report_id).first()
        if report is None or report.severity not in ("medium", "high"):
            return None
        return report.model.tenant, payloads.drift_message(report)

    return _safely("drift", f"report {report_id}", build)


def notify_cost_anomaly(anomaly_id: int) -> list[Delivery]:
    """Tell the team a model's daily cost jumped (apps.costs anomaly detection)."""
    def build():
        from apps.costs.models import CostAnomaly

        anomaly = CostAnomaly.objects.select_related("tenant", "model").filter(pk=anomaly_id).first()
        return None if anomaly is None else (anomaly.tenant, payloads.anomaly_message(anomaly))

    return _safely(Event.COST_ANOMALY, f"anomaly {anomaly_id}", build)


def notify_budget(alert_id: int) -> list[Delivery]:
    """Tell the team its month-to-date cost reached 50, 80 or 100 % of its budget."""
    def build():
        from apps.costs.models import BudgetAlert

        alert = BudgetAlert.objects.select_related("tenant").filter(pk=alert_id).first()
        return None if alert is None else (alert.tenant, payloads.budget_message(alert))

    return _safely(Event.BUDGET_THRESHOLD, f"budget alert {alert_id}", build)


def notify_cost(event: str, obj_id: int) -> list[Delivery]:
    """The hook apps.costs calls: `("cost_anomaly", CostAnomaly id)` or `("budget_threshold", BudgetAlert id)`."""
    if event == Event.COST_ANOMALY:
        return notify_cost_anomaly(obj_id)
    if event == Event.BUDGET_THRESHOLD:
        return notify_budget(obj_id)
    log.warning("unknown cost event %r", event)
    return []


# --- delivery ---------------------------------------------------------------------------------

def next_attempt_delay(attempt: int, *, max_attempts: int | None = None, retry_after: int | None = None) -> int | None:
    """Seconds to wait after failed attempt number `attempt` (1-based), or None when it was the last.

    Default schedule: 30 s, 2 min, 10 min, 1 h, then give up after the fifth attempt. A
    `Retry-After` (429/503) stretches the wait, never beyond the longest backoff.
    """
    max_attempts = settings.SLIPWAY_NOTIFY_MAX_ATTEMPTS if max_attempts is None else max_attempts
    if attempt >= max_attempts:
        return None
    backoff = settings.SLIPWAY_NOTIFY_BACKOFF_SECONDS
    delay = backoff[min(attempt, len(backoff)) - 1]
    if retry_after:
        delay = max(delay, min(retry_after, backoff[-1]))
    return delay


def attempt_schedule(start: datetime, *, max_attempts: int | None = None) -> list[datetime]:
    """When each attempt happens if every one fails transiently (for docs, pages and tests)."""
    times, at, attempt = [start], start, 1
    while (delay := next_attempt_delay(attempt, max_attempts=max_attempts)) is not None:
        at += timedelta(seconds=delay)
        times.append(at)
        attempt += 1
    return times


def classify(result: transport.Result, kind: str) -> str:
    """delivered, failed (retrying cannot help) or retry (it may work later)."""
    if result.refused:
        return AttemptOutcome.FAILED
    if kind == DestinationKind.EMAIL:
        return AttemptOutcome.RETRY if result.error else AttemptOutcome.DELIVERED
    code = result.status_code
    if code is None:
        return AttemptOutcome.RETRY  # timeout, refused connection, TLS or DNS trouble
    if 200 <= code < 300:
        return AttemptOutcome.DELIVERED
    if code in (408, 429) or code >= 500:
        return AttemptOutcome.RETRY
    return AttemptOutcome.FAILED  # 3xx (redirects are not followed) and other 4xx: the request is wrong


def attempt_delivery(delivery_id: int, *, now: datetime | None = None) -> Delivery | None:
    """Make one attempt of a due, pending delivery; returns it updated, or None when it was not due.

    The claim is a compare-and-set that also counts the attempt, so concurrent workers (or a
    duplicate message) send it once, and a crash mid-send still uses up an attempt. The HTTP
    call runs outside any transaction.
    """
    now = now or timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
                                      attempts__lt=F("max_attempts")).update(
        attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=LEASE_SECONDS), updated_at=now)
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("destination").get(pk=delivery_id)
    destination = delivery.destination
    if destination is None:
        result = transport.Result(None, "The destination was deleted.", "", 0, refused=True)
    elif not destination.enabled and delivery.event != Event.TEST:
        result = transport.Result(None, "The destination is disabled.", "", 0, refused=True)
    elif destination.kind == DestinationKind.WEBHOOK:
        result = transport.post_webhook(destination.url, delivery.payload, secret=destination.secret,
                                        event=delivery.event, delivery_id=delivery.pk)
    else:
        subject, text = payloads.email_content(delivery.payload)
        result = transport.send_email(destination.email, subject, text)
    return _record(delivery, result, started=now)


def _record(delivery: Delivery, result: transport.Result, *, started: datetime) -> Delivery:
    number = delivery.attempts
    outcome = classify(result, delivery.kind)
    retry_at = None
    if outcome == AttemptOutcome.RETRY:
        delay = next_attempt_delay(number, max_attempts=delivery.max_attempts, retry_after=result.retry_after)
        if delay is None:
            outcome = AttemptOutcome.FAILED
        else:
            retry_at = started + timedelta(seconds=delay)
    finished = timezone.now()
    fields = {"last_status_code": result.status_code, "last_error": result.error[:500],
              "response_excerpt": result.excerpt[:500], "updated_at": finished}
    if outcome == AttemptOutcome.DELIVERED:
        fields.update(status=DeliveryStatus.DELIVERED, delivered_at=finished, next_attempt_at=None)
    elif outcome == AttemptOutcome.FAILED:
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        fields.update(next_attempt_at=retry_at)
    with transaction.atomic():
        DeliveryAttempt.objects.create(delivery=delivery, number=number, outcome=outcome,
                                       status_code=result.status_code, error=result.error[:500],
                                       response_excerpt=result.excerpt[:500], duration_ms=result.duration_ms,
                                       retry_at=retry_at, created_at=started)
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
    for key, value in fields.items():
        setattr(delivery, key, value)
    log.info("delivery %s attempt %s: %s (%s)", delivery.pk, number, outcome,
             result.status_code or result.error or "ok")
    return delivery


def due_deliveries(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is due (retries, and first attempts never enqueued)."""
    now = now or timezone.now()
    return list(Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])


def has_alert_destination(tenant) -> bool:
    """Whether alerts of `tenant` go somewhere: an enabled destination, or the team webhook URL."""
    return bool(tenant.webhook_url) or Destination.objects.filter(tenant=tenant, enabled=True).exists()
