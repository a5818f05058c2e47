from django.db import models


class DriftErrorCode(models.TextChoices):
    UNKNOWN_FEATURE = "unknown_feature", "Unknown feature"
    NOT_NUMERIC = "not_numeric", "Not a number"
    NOT_CATEGORICAL = "not_categorical", "Not a category"
    MIXED_TYPES = "mixed_types", "Mixed value types"
    TOO_LARGE = "too_large", "Too many values"
    EMPTY = "empty", "No values"
    NO_BASELINE = "no_baseline", "No baseline"
    NO_OBSERVATIONS = "no_observations", "No observations"
    DRIFT_UNACKNOWLEDGED = "drift_unacknowledged", "Drift not acknowledged"
    THRESHOLDS = "invalid_thresholds", "Invalid thresholds"
