"""Choices of the runbooks app."""

from django.db import models


class RunbookScope(models.TextChoices):
    MODEL = "model", "Model runbook (team)"
    PLATFORM = "platform", "Platform-wide runbook"
