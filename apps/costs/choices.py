"""Enumerations of the costs app."""

from django.db import models


class UsageSource(models.TextChoices):
    """Where an hour's request count came from."""

    METRICS = "metrics", "Metrics provider"
    SIMULATED = "simulated", "Simulated (demo history)"
    UNAVAILABLE = "unavailable", "Not measured"


class GroupBy(models.TextChoices):
    DAY = "day", "Day"
    MODEL = "model", "Model"
    TENANT = "tenant", "Team"
    ENVIRONMENT = "environment", "Environment"


class RecommendationKind(models.TextChoices):
    RIGHT_SIZE = "right_size", "Right-size"
    STAGING_TO_ZERO = "staging_to_zero", "Scale staging to zero when idle"
    RAISE_SPOT = "raise_spot", "Raise the spot share"
    BATCH_REQUESTS = "batch_requests", "Batch requests"


# Budget thresholds (percent of the monthly budget); each notifies once per month.
BUDGET_THRESHOLDS = (50, 80, 100)
