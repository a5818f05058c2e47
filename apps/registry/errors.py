from django.db import models


class RegistryErrorCode(models.TextChoices):
    DUPLICATE_NAME = "duplicate_name", "Duplicate model name"
    VERSION_EXISTS = "version_exists", "Version already imported"
    MODEL_IN_USE = "model_in_use", "Model in use"
