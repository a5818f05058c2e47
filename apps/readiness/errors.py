from django.db import models


class ReadinessErrorCode(models.TextChoices):
    UNKNOWN_ITEM = "unknown_item", "Unknown checklist item"
    NOT_ATTESTABLE = "not_attestable", "Item is automatic"
    EVIDENCE_REQUIRED = "evidence_required", "Evidence required"
    REASON_REQUIRED = "reason_required", "Reason required"
    BAD_STATUS = "bad_status", "Status not allowed"
