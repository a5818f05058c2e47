"""Error codes of the costs app (clients branch on these, never on message text)."""

from django.db import models


class CostErrorCode(models.TextChoices):
    INVALID_DATE = "invalid_date", "Invalid date"
    RANGE_TOO_LONG = "range_too_long", "Date range too long"
    END_BEFORE_START = "end_before_start", "End before start"
    INVALID_GROUP_BY = "invalid_group_by", "Invalid group_by"
    AWS_NOT_CONFIGURED = "aws_not_configured", "AWS is not configured"
    AWS_UNAVAILABLE = "aws_unavailable", "Cost Explorer unavailable"
