"""Error codes of the runbooks app."""

from django.db import models


class RunbookErrorCode(models.TextChoices):
    STALE_REVISION = "stale_revision", "Saved by someone else meanwhile"
    DUPLICATE = "duplicate", "Runbook exists"
    UNKNOWN_REVISION = "unknown_revision", "No such revision"
