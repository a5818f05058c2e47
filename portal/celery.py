"""The Celery app shared by the web process (to enqueue), the worker and beat."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("slipway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["worker"], related_name="tasks")

app.conf.beat_schedule = {
    "tick-rollouts": {
        "task": "tick_rollouts",
        "schedule": float(os.environ.get("SLIPWAY_TICK_SECONDS", "10")),
    },
    "expire-approvals": {"task": "expire_approvals", "schedule": 300.0},
    # Drift: a report for every live version with a baseline, hourly (issue 5).
    "compute-drift-reports": {"task": "compute_drift_reports", "schedule": 3600.0},
    # Costs: meter the hour that just ended, budgets after it; daily actuals and anomalies.
    "meter-hour": {"task": "meter_hour", "schedule": crontab(minute=2)},
    "check-budgets": {"task": "check_budgets", "schedule": crontab(minute=10)},
    "ingest-aws-costs": {"task": "ingest_aws_costs", "schedule": crontab(hour=6, minute=15)},
    "detect-cost-anomalies": {"task": "detect_cost_anomalies", "schedule": crontab(hour=0, minute=30)},
    # Notifications: webhook/e-mail retries whose backoff has elapsed.
    "retry-notifications": {
        "task": "retry_notifications",
        "schedule": float(os.environ.get("SLIPWAY_NOTIFY_SWEEP_SECONDS", "15")),
    },
    "sync-all-models": {
        "task": "sync_all_models",
        "schedule": float(os.environ.get("SLIPWAY_SYNC_INTERVAL_SECONDS", "300")),
    },
}
