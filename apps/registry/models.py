"""Models and their versions, mirrored from the MLflow model registry."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from apps.core.scoping import TenantScopedQuerySet

name_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "Use 1-63 lowercase letters, digits and dashes, starting and ending with a letter or digit "
    "(the name becomes part of Kubernetes object names).",
)


class Model(models.Model):
    """A team's model. Its versions are imported from the MLflow model `mlflow_name`.

    The name is unique in the team and DNS-safe because it names cluster objects.
    """

    tenant_path = "tenant"

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=63, validators=[name_validator])
    description = models.TextField(blank=True, max_length=5000)
    mlflow_name = models.CharField("MLflow registered model", max_length=256)
    owner = models.CharField(max_length=150, blank=True, help_text="Who owns the model (person or e-mail).")
    oncall = models.CharField("on-call contact", max_length=150, blank=True)
    sla_p99_ms = models.PositiveIntegerField("latency SLA (p99 ms)", default=200,
                                             validators=[MinValueValidator(1), MaxValueValidator(600_000)])
    primary_metric = models.CharField(max_length=100, blank=True,
                                      help_text="The MLflow run metric validation compares, e.g. 'auc'.")
    primary_metric_floor = models.FloatField(null=True, blank=True,
                                             help_text="Minimum value of the primary metric for a first version.")
    higher_is_better = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["tenant_id", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uniq_model_name_in_tenant")]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One MLflow model version, imported (never typed). Immutable except its checklist.

    Reproducibility fields are read from the run's tags and params at import; an empty
    string means the run did not record it.
    """

    tenant_path = "model__tenant"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    mlflow_run_id = models.CharField(max_length=64, blank=True)
    artifact_uri = models.CharField(max_length=1000, blank=True)
    artifact_digest = models.CharField(max_length=71, blank=True, help_text="sha256:<hex> of the MLmodel file.")
    git_commit = models.CharField(max_length=64, blank=True)
    dataset_version = models.CharField(max_length=200, blank=True)
    image_digest = models.CharField(max_length=200, blank=True)
    random_seed = models.CharField(max_length=64, blank=True)
    data_validation = models.CharField(max_length=20, blank=True,
                                       help_text="The run's data-validation result tag ('passed', 'failed', …).")
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    mlflow_status = models.CharField(max_length=40, blank=True)
    mlflow_created_at = models.DateTimeField(null=True, blank=True)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["model_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["model", "version"], name="uniq_version_per_model")]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"

    @property
    def tenant_id(self) -> int:
        return self.model.tenant_id
