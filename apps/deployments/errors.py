from django.db import models


class DeploymentErrorCode(models.TextChoices):
    NOT_READY = "version_not_ready", "Version not ready"
    QUOTA = "gpu_quota_exceeded", "GPU quota exceeded"
    SELF_APPROVAL = "self_approval", "Requester cannot approve"
    COMMENT_REQUIRED = "comment_required", "Comment required"
    APPROVAL_STALE = "approval_stale", "Approval no longer valid"
    ARTIFACT_CHANGED = "artifact_changed", "Artifact changed since approval"
    NO_PREVIOUS = "no_previous_version", "Nothing to roll back to"
    ALREADY_ACTIVE = "deployment_in_progress", "Another deployment is in progress"
    UNKNOWN_ENVIRONMENT = "unknown_environment", "Unknown environment"
