"""The Celery app shared by the web process (to enqueue), the worker and beat."""

import os

from celery import Celery

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
    "sync-all-models": {
        "task": "sync_all_models",
        "schedule": float(os.environ.get("SLIPWAY_SYNC_INTERVAL_SECONDS", "300")),
    },
}
