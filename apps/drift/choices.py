"""Drift vocabularies: severities (SPEC §5), policy actions, report triggers, action kinds."""

from django.db import models


class Severity(models.TextChoices):
    NONE = "none", "None"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


# Higher is worse; used to sort "drifting first".
SEVERITY_RANK = {Severity.NONE: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}
# A version whose latest report is one of these is "drifting": it needs a person's
# acknowledgement before a new production rollout of it may start.
DRIFTING = {Severity.MEDIUM, Severity.HIGH}


class PolicyAction(models.TextChoices):
    NOTIFY = "notify", "Notify the team"
    ROLLBACK = "rollback", "Notify and roll back on high drift"


class FeatureKind(models.TextChoices):
    NUMERIC = "numeric", "Numeric"
    CATEGORICAL = "categorical", "Categorical"


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", "Hourly schedule"
    MANUAL = "manual", "On demand"


class ActionKind(models.TextChoices):
    LOGGED = "logged", "Logged"
    ALERTED = "alerted", "Alert recorded"
    NOTIFIED = "notified", "Team notified"
    ROLLED_BACK = "rolled_back", "Rolled back"
    ROLLBACK_FAILED = "rollback_failed", "Rollback not possible"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
