from django.db import models


class Role(models.TextChoices):
    DATA_SCIENTIST = "data_scientist", "Data scientist"
    VIEWER = "viewer", "Viewer"


class Action(models.TextChoices):
    """What a caller wants to do with a tenant's objects."""

    VIEW = "view", "View"
    CHANGE = "change", "Change"
