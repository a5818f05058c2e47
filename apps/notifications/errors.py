"""Error codes of the notifications app (clients branch on these, never on the text)."""

from django.db import models


class NotificationErrorCode(models.TextChoices):
    INVALID_URL = "invalid_url", "Not a valid URL"
    HTTPS_REQUIRED = "https_required", "HTTPS required"
    ADDRESS_REFUSED = "address_refused", "Address refused"
    UNRESOLVABLE = "unresolvable", "Host name does not resolve"
    INVALID_EMAIL = "invalid_email", "Not a valid e-mail address"
    UNKNOWN_EVENT = "unknown_event", "Unknown event"
    NAME_TAKEN = "name_taken", "Name already used"
    KIND_MISMATCH = "kind_mismatch", "Field does not fit the kind"
    DISABLED = "disabled", "Destination disabled"
