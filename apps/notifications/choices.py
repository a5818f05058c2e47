"""Destination kinds, notification events and delivery states (SPEC §6)."""

from __future__ import annotations

from django.db import models


class DestinationKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (Slack-compatible JSON)"
    EMAIL = "email", "E-mail"


class Event(models.TextChoices):
    """Everything a team can be told about. Deployment events carry the deployment's new state."""

    APPROVAL_NEEDED = "approval_needed", "Approval needed"
    QUEUED = "queued", "Deployment queued"
    APPROVED = "approved", "Production request approved"
    REJECTED = "rejected", "Production request rejected"
    EXPIRED = "expired", "Production request expired"
    PAUSED = "paused", "Rollout paused"
    LIVE = "live", "Rollout finished (live)"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Rollout failed"
    DRIFT_MEDIUM = "drift_medium", "Drift: medium"
    DRIFT_HIGH = "drift_high", "Drift: high"
    COST_ANOMALY = "cost_anomaly", "Cost anomaly"
    BUDGET_THRESHOLD = "budget_threshold", "Budget threshold reached"
    TEST = "test", "Test message"


DEPLOYMENT_EVENTS = frozenset({Event.APPROVAL_NEEDED, Event.QUEUED, Event.APPROVED, Event.REJECTED, Event.EXPIRED,
                               Event.PAUSED, Event.LIVE, Event.ROLLED_BACK, Event.FAILED})
# What a destination can subscribe to (the test message always goes to the one being tested).
SUBSCRIBABLE = [e for e in Event.values if e != Event.TEST]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class AttemptOutcome(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    RETRY = "retry", "Will retry"
    FAILED = "failed", "Gave up"
