"""Celery tasks: thin wrappers — ids in, one service call, nothing else (STYLE §2, §4)."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import task_postrun

from apps.core.audit import audit_context
from apps.core.models import AuditSource

log = logging.getLogger(__name__)


@task_postrun.connect
def _count_task(sender=None, state=None, **kwargs):
    from apps.core.metrics import TASKS

    TASKS.labels(getattr(sender, "name", "unknown"), state or "UNKNOWN").inc()


@shared_task(name="evaluate_checklist", acks_late=True)
def evaluate_checklist(version_id: int) -> None:
    """Re-run the automatic checklist items of one version (idempotent)."""
    from apps.readiness.services import evaluate
    from apps.registry.models import ModelVersion

    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        return
    with audit_context(source=AuditSource.WORKER):
        evaluate(version, actor=None)


@shared_task(name="sync_model_versions", acks_late=True)
def sync_model_versions(model_id: int) -> int:
    """Import the MLflow versions of one model that Slipway lacks (idempotent); returns how many.

    A model whose MLflow name does not exist, or an MLflow that is down, is logged and left
    for the next beat: retrying at once would not help and must not stop the other models.
    """
    from apps.registry.mlflow_client import MlflowNotFound, MlflowUnavailable
    from apps.registry.models import Model
    from apps.registry.services import sync_versions

    model = Model.objects.filter(pk=model_id).first()
    if model is None:
        return 0
    try:
        with audit_context(source=AuditSource.WORKER):
            return len(sync_versions(model, actor=None))
    except (MlflowNotFound, MlflowUnavailable) as exc:
        log.warning("sync of model %s (%s) skipped: %s", model.pk, model.mlflow_name, exc)
        return 0


@shared_task(name="sync_all_models")
def sync_all_models() -> None:
    """Beat: fan out one sync per model, so one broken MLflow name does not stop the rest."""
    from apps.registry.models import Model

    for model_id in Model.objects.values_list("pk", flat=True):
        sync_model_versions.delay(model_id)


@shared_task(name="reconcile_rollout", acks_late=True)
def reconcile_rollout(rollout_id: int) -> str:
    """One reconcile tick of one rollout (idempotent; a held lease makes it a no-op)."""
    from worker.engine.reconcile import reconcile

    with audit_context(source=AuditSource.WORKER):
        return reconcile(rollout_id)


@shared_task(name="tick_rollouts")
def tick_rollouts() -> int:
    """Beat, every tick: enqueue a reconcile for every rollout that needs one."""
    from django.utils import timezone

    from worker.engine.reconcile import enqueue_due

    return enqueue_due(now=timezone.now(), send=reconcile_rollout.delay)


@shared_task(name="expire_approvals")
def expire_approvals() -> int:
    """Beat: production requests and approvals past their TTL expire."""
    from apps.deployments.services import expire_approvals as expire

    with audit_context(source=AuditSource.WORKER):
        return expire()


# --- costs (apps.costs) ------------------------------------------------------------------

@shared_task(name="meter_hour", acks_late=True)
def meter_hour(hour: str | None = None) -> int:
    """Beat, hourly: meter the hour that just ended (or the ISO `hour` given). Rerunning an
    hour replaces its rows, so a redelivered task never doubles a cost."""
    from datetime import datetime, timedelta

    from django.utils import timezone

    from apps.costs.services import meter_hour as meter

    start = datetime.fromisoformat(hour) if hour else timezone.now() - timedelta(hours=1)
    with audit_context(source=AuditSource.WORKER):
        return meter(start)


@shared_task(name="ingest_aws_costs", acks_late=True)
def ingest_aws_costs(days: int = 3) -> int:
    """Beat, daily: Cost Explorer actuals of the last `days` days (AWS revises recent days).
    Does nothing unless SLIPWAY_COSTS_AWS_ENABLED."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from apps.core.errors import ServiceUnavailable
    from apps.costs.services import ingest_actuals

    if not settings.SLIPWAY_COSTS_AWS_ENABLED:
        return 0
    today = timezone.now().date()
    try:
        return ingest_actuals(today - timedelta(days=days), today)
    except ServiceUnavailable as exc:
        log.warning("Cost Explorer ingestion skipped: %s", exc)
        return 0


@shared_task(name="detect_cost_anomalies", acks_late=True)
def detect_cost_anomalies(day: str | None = None) -> int:
    """Beat, daily: yesterday (or `day`, YYYY-MM-DD) against each model's trailing 7 days."""
    from datetime import date

    from apps.costs.services import detect_anomalies

    with audit_context(source=AuditSource.WORKER):
        return len(detect_anomalies(date.fromisoformat(day) if day else None))


@shared_task(name="check_budgets", acks_late=True)
def check_budgets() -> int:
    """Beat, hourly: budget thresholds (50/80/100 %) reached this month, each notified once."""
    from apps.costs.services import check_budgets as check

    with audit_context(source=AuditSource.WORKER):
        return len(check())


# --- drift (apps.drift) --------------------------------------------------------------------

@shared_task(name="compute_drift_report", acks_late=True)
def compute_drift_report(version_id: int) -> str:
    """One version's drift report now; acting on it is idempotent (a rollback happens once)."""
    from apps.drift.services import compute_report
    from apps.registry.models import ModelVersion

    version = ModelVersion.objects.select_related("model__tenant").filter(pk=version_id).first()
    if version is None:
        return "gone"
    with audit_context(source=AuditSource.WORKER):
        report = compute_report(version, actor=None)
    return report.severity if report is not None else "no data"


@shared_task(name="compute_drift_reports")
def compute_drift_reports() -> int:
    """Beat, hourly: fan out one report per live version that has a baseline."""
    from apps.drift.services import live_version_ids

    ids = live_version_ids()
    for version_id in ids:
        compute_drift_report.delay(version_id)
    return len(ids)


# --- notifications (apps.notifications) -------------------------------------------------------

@shared_task(name="deliver_notification", acks_late=True)
def deliver_notification(delivery_id: int) -> str:
    """One attempt of a webhook or e-mail delivery (a claim makes a duplicate message harmless).

    A failed attempt is not retried from here: the service stores when the next one is due
    (30 s, 2 min, 10 min, 1 h) and `retry_notifications` enqueues it then.
    """
    from apps.notifications.services import attempt_delivery

    with audit_context(source=AuditSource.WORKER):
        delivery = attempt_delivery(delivery_id)
    return "not due" if delivery is None else delivery.status


@shared_task(name="retry_notifications")
def retry_notifications() -> int:
    """Beat: enqueue every pending delivery whose next attempt is due."""
    from apps.notifications.services import due_deliveries

    ids = due_deliveries()
    for delivery_id in ids:
        deliver_notification.delay(delivery_id)
    return len(ids)
