from django.db import models


class TenancyErrorCode(models.TextChoices):
    TOKEN_NAME_REQUIRED = "token_name_required", "Token name required"
    TOKEN_EXPIRY_INVALID = "token_expiry_invalid", "Token expiry invalid"
    TOKEN_LIMIT = "token_limit", "Too many tokens"
