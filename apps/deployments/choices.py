"""Deployment states and the moves between them (SPEC §2 "Deployment states").

```
pending_approval ──approve──▶ queued ──▶ progressing ◀──resume── paused
      │ reject / expire               │   │  └──pause──▶ paused
      ▼                               │   ├──gates green at 100%──▶ live ──newer live──▶ superseded
 rejected / expired                   │   ├──gate breach / abort──▶ rolled_back
                                      │   └──unrecoverable error──▶ failed
staging skips approval: created queued.  live ──rollback──▶ rolled_back (previous version live again)
```
A superseded deployment becomes live again when the newer one is rolled back; an approved
deployment whose approval expires before its rollout starts becomes expired; a queued one
can be aborted (rolled_back) or fail its pre-start checks (failed).
"""

from django.db import models


class DeploymentStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    QUEUED = "queued", "Queued"
    PROGRESSING = "progressing", "Progressing"
    PAUSED = "paused", "Paused"
    LIVE = "live", "Live"
    SUPERSEDED = "superseded", "Superseded"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Failed"


S = DeploymentStatus
TRANSITIONS: dict[str, set[str]] = {
    S.PENDING_APPROVAL: {S.QUEUED, S.REJECTED, S.EXPIRED},
    S.QUEUED: {S.PROGRESSING, S.EXPIRED, S.ROLLED_BACK, S.FAILED},
    S.PROGRESSING: {S.PAUSED, S.LIVE, S.ROLLED_BACK, S.FAILED},
    S.PAUSED: {S.PROGRESSING, S.ROLLED_BACK, S.FAILED},
    S.LIVE: {S.SUPERSEDED, S.ROLLED_BACK},
    S.SUPERSEDED: {S.LIVE},
    S.REJECTED: set(),
    S.EXPIRED: set(),
    S.ROLLED_BACK: set(),
    S.FAILED: set(),
}
# No further progress is expected (a superseded one only returns through a rollback).
TERMINAL = {S.REJECTED, S.EXPIRED, S.SUPERSEDED, S.ROLLED_BACK, S.FAILED}
# The reconciler drives these.
ACTIVE = {S.QUEUED, S.PROGRESSING, S.PAUSED}
# Deployments that hold GPUs (count against the team's quota).
RESERVING = {S.QUEUED, S.PROGRESSING, S.PAUSED, S.LIVE}


class Strategy(models.TextChoices):
    CANARY = "canary", "Canary"
    ROLLING = "rolling", "Rolling (batches that fit the quota)"


class Phase(models.TextChoices):
    """Where a rollout is inside `progressing` (like Argo's status.phase + step)."""

    PENDING = "pending", "Waiting to start"
    STARTING = "starting", "Creating the new version"
    WAITING_READY = "waiting_ready", "Waiting for pods"
    SMOKE = "smoke", "Smoke analysis"
    STEP = "step", "Canary step soak"
    GUARD = "guard", "Guard window"
    DONE = "done", "Done"
    ROLLING_BACK = "rolling_back", "Rolling back"
    RESTORING = "restoring", "Restoring previous version"


class Verdict(models.TextChoices):
    OK = "ok", "Within gates"
    ADVANCE = "advance", "Advance"
    HOLD = "hold", "Hold"
    INCONCLUSIVE = "inconclusive", "Inconclusive"
    ROLLBACK = "rollback", "Roll back"


class ApprovalDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class MetricsProviderKind(models.TextChoices):
    DEVCLUSTER = "devcluster", "Dev cluster"
    PROMETHEUS = "prometheus", "Prometheus"
