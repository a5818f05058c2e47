from django.db import models


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    WAIVED = "waived", "Waived"


class ItemKind(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic"
    ATTESTED = "attested", "Attested"
    EITHER = "either", "Automatic or attested"


# Statuses that count towards "ready".
SATISFIED = {ItemStatus.PASS, ItemStatus.WAIVED}
