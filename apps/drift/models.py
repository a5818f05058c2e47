"""Drift monitoring: per-model policy, per-version baselines, hourly bucket counts, reports, actions.

Storage never grows with traffic: an observation batch is turned into bucket counts at once
and added to the version's row for that hour (`ObservationWindow`), so a version holds at most
one small row per hour whatever the number of predictions posted.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from apps.core.scoping import TenantScopedQuerySet
from apps.drift.choices import ActionKind, PolicyAction, Severity, Trigger
from apps.drift.psi import DEFAULT_THRESHOLDS, Thresholds


class DriftPolicy(models.Model):
    """What drift means for one model and what Slipway does about it.

    Thresholds: PSI ≥ low is low, ≥ medium is medium, > high is high (defaults 0.1 / 0.2 /
    0.25, SPEC §5). `action = rollback` restores the previous live production version when
    a report of the live version is high. Models without a row use the defaults.
    """

    tenant_path = "model__tenant"

    model = models.OneToOneField("registry.Model", on_delete=models.CASCADE, related_name="drift_policy")
    action = models.CharField(max_length=10, choices=PolicyAction.choices, default=PolicyAction.NOTIFY)
    low_threshold = models.FloatField(default=DEFAULT_THRESHOLDS[0])
    medium_threshold = models.FloatField(default=DEFAULT_THRESHOLDS[1])
    high_threshold = models.FloatField(default=DEFAULT_THRESHOLDS[2])
    window_hours = models.PositiveIntegerField(default=1, help_text="Hours of observations a report compares.")
    min_rows = models.PositiveIntegerField(default=100, help_text="Fewer observed rows than this: no report.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["model_id"]
        verbose_name_plural = "drift policies"

    def __str__(self) -> str:
        return f"drift policy of {self.model}"

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.low_threshold, self.medium_threshold, self.high_threshold)

    def clean(self) -> None:
        if not (0 < self.low_threshold < self.medium_threshold <= self.high_threshold <= 10):
            raise ValidationError({"low_threshold": "Thresholds must rise: 0 < low < medium ≤ high ≤ 10."})
        if not 1 <= self.window_hours <= 168:
            raise ValidationError({"window_hours": "Between 1 and 168 hours."})


class Baseline(models.Model):
    """The reference distribution of one version: bucket definitions and baseline counts.

    `features` maps a feature name to `{"kind": "numeric", "edges": [...], "counts": [...]}` or
    `{"kind": "categorical", "categories": [...], "counts": [...]}`; `prediction` is the same
    for the model's predictions (or null). Counts end with the missing-value bucket. Uploading
    a new baseline bumps `revision`; observations of older revisions are no longer compared.
    """

    tenant_path = "version__model__tenant"

    version = models.OneToOneField("registry.ModelVersion", on_delete=models.CASCADE, related_name="drift_baseline")
    revision = models.PositiveIntegerField(default=1)
    features = models.JSONField()
    prediction = models.JSONField(null=True, blank=True)
    rows = models.PositiveIntegerField(help_text="Rows of the baseline sample (the longest column).")
    source = models.CharField(max_length=20, default="api")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return f"baseline of {self.version}"


class ObservationWindow(models.Model):
    """Bucket counts of the observations of one version in one hour (not raw rows)."""

    tenant_path = "version__model__tenant"

    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="drift_windows")
    baseline_revision = models.PositiveIntegerField()
    window_start = models.DateTimeField(help_text="Start of the hour these counts cover.")
    rows = models.PositiveBigIntegerField(default=0)
    batches = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)
    prediction_counts = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["version_id", "-window_start"]
        constraints = [models.UniqueConstraint(fields=["version", "baseline_revision", "window_start"],
                                               name="uniq_drift_window")]

    def __str__(self) -> str:
        return f"{self.version} @ {self.window_start:%Y-%m-%d %H:00}"


class DriftReport(models.Model):
    """PSI per feature (and for predictions) of one version's recent observations vs its baseline.

    `current` keeps the observed bucket counts, so the page can draw baseline-vs-current
    histograms without the raw data. `thresholds` records the policy in force when computed.
    A drifting report (medium or high) blocks new production rollouts of the version until a
    person acknowledges it (`acknowledged_at`).
    """

    tenant_path = "model__tenant"

    model = models.ForeignKey("registry.Model", on_delete=models.CASCADE, related_name="drift_reports")
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="drift_reports")
    baseline_revision = models.PositiveIntegerField()
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    rows = models.PositiveBigIntegerField(default=0)
    psi = models.JSONField(default=dict, help_text="Feature name → PSI.")
    prediction_psi = models.FloatField(null=True, blank=True)
    max_psi = models.FloatField(default=0.0)
    top_feature = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.NONE, db_index=True)
    thresholds = models.JSONField(default=dict)
    current = models.JSONField(default=dict, help_text="Observed bucket counts per feature ('__prediction__').")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledge_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["version", "-created_at"], name="drift_report_version_time")]

    def __str__(self) -> str:
        return f"drift report #{self.pk} of {self.version} ({self.severity})"

    @property
    def is_drifting(self) -> bool:
        return self.severity in (Severity.MEDIUM, Severity.HIGH)

    @property
    def needs_acknowledgement(self) -> bool:
        return self.is_drifting and self.acknowledged_at is None


class DriftAction(models.Model):
    """What Slipway did about a report: logged, alerted, notified, rolled back, acknowledged.

    A live deployment is rolled back because of drift at most once: the partial unique
    constraint holds even if two report tasks race (the rollback service's row lock makes
    the loser see a deployment that is no longer live).
    """

    tenant_path = "report__model__tenant"

    report = models.ForeignKey(DriftReport, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=20, choices=ActionKind.choices)
    message = models.TextField(blank=True)
    deployment = models.ForeignKey("deployments.Deployment", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="drift_actions")
    actor_label = models.CharField(max_length=150, default="worker")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["deployment"], condition=models.Q(kind="rolled_back"),
                                               name="uniq_drift_rollback_per_deployment")]

    def __str__(self) -> str:
        return f"{self.kind} for report #{self.report_id}"
