"""Cost records: metered estimates per deployment and hour, AWS actuals per day, alerts.

Estimates come from metering (apps.costs.metering + services.meter_hour): one row per
(deployment, hour), replaced — never added to — when the hour is metered again. Actuals come
from AWS Cost Explorer, one row per (day, tenant tag, model tag, environment tag). Both are
shown side by side; neither overwrites the other.
"""

from __future__ import annotations

from django.db import models

from apps.core.scoping import TenantScopedQuerySet

MONEY = {"max_digits": 14, "decimal_places": 4}
HOURS = {"max_digits": 12, "decimal_places": 4}


class CostRecord(models.Model):
    """What one deployment cost in one hour (an estimate priced from the instance catalog).

    Guarantees: at most one row per (deployment, hour); `usd = on_demand_usd + spot_usd`;
    `gpu_hours = replica_hours × gpus_per_replica`; `requests` is None when the metrics
    provider could not say (never a made-up zero). Unit prices are copied from the catalog
    row at metering time, so a later price change does not rewrite history silently.
    """

    tenant_path = "tenant"

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="cost_records")
    model = models.ForeignKey("registry.Model", on_delete=models.CASCADE, related_name="cost_records")
    environment = models.ForeignKey("deployments.Environment", on_delete=models.PROTECT, related_name="+")
    deployment = models.ForeignKey("deployments.Deployment", on_delete=models.CASCADE, related_name="cost_records")
    version_number = models.PositiveIntegerField()
    hour = models.DateTimeField(help_text="Start of the metered hour (UTC).")
    day = models.DateField(help_text="UTC day of `hour` (kept for fast grouping).")
    instance_type = models.CharField(max_length=40)
    gpus_per_replica = models.PositiveIntegerField(default=0)
    replica_hours = models.DecimalField(**HOURS)
    gpu_hours = models.DecimalField(**HOURS)
    instance_hours = models.DecimalField(**HOURS, help_text="Replica-hours × the replica's share of its node.")
    spot_share = models.DecimalField(max_digits=5, decimal_places=4, help_text="0–1, from config.spot_percent.")
    on_demand_rate = models.DecimalField(max_digits=10, decimal_places=4, help_text="USD per instance-hour.")
    spot_rate = models.DecimalField(max_digits=10, decimal_places=4, help_text="USD per instance-hour.")
    on_demand_usd = models.DecimalField(**MONEY)
    spot_usd = models.DecimalField(**MONEY)
    usd = models.DecimalField(**MONEY)
    requests = models.BigIntegerField(null=True, blank=True)
    gpu_utilization = models.FloatField(null=True, blank=True, help_text="Mean over the hour, 0–1.")
    usage_source = models.CharField(max_length=20, default="metrics")
    metered_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-hour", "deployment_id"]
        constraints = [models.UniqueConstraint(fields=["deployment", "hour"], name="uniq_cost_per_deployment_hour")]
        indexes = [
            models.Index(fields=["tenant", "day"], name="cost_tenant_day"),
            models.Index(fields=["model", "day"], name="cost_model_day"),
            models.Index(fields=["day"], name="cost_day"),
        ]

    def __str__(self) -> str:
        return f"#{self.deployment_id} {self.hour:%Y-%m-%d %H:00}: ${self.usd}"


class ActualCost(models.Model):
    """One day of AWS Cost Explorer actuals for one (tenant, model, environment) tag set.

    The tags are the cost-allocation labels the cluster objects carry (`tenant`, `model`,
    `environment`, see worker/cluster/manifests.labels). A tag value that names no known
    team keeps `tenant` empty: only platform engineers see such rows.
    """

    tenant_path = "tenant"

    tenant = models.ForeignKey("tenancy.Tenant", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="actual_costs")
    model = models.ForeignKey("registry.Model", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    day = models.DateField()
    tenant_tag = models.CharField(max_length=100, blank=True)
    model_tag = models.CharField(max_length=100, blank=True)
    environment_tag = models.CharField(max_length=100, blank=True)
    usd = models.DecimalField(**MONEY)
    estimated = models.BooleanField(default=False, help_text="AWS marks the figure as not final yet.")
    ingested_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "tenant_tag", "model_tag"]
        constraints = [models.UniqueConstraint(fields=["day", "tenant_tag", "model_tag", "environment_tag"],
                                               name="uniq_actual_cost_per_tags_day")]
        indexes = [models.Index(fields=["tenant", "day"], name="actual_tenant_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.tenant_tag}/{self.model_tag}/{self.environment_tag}: ${self.usd}"


class CostAnomaly(models.Model):
    """A day on which a model cost more than 20 % above its trailing 7-day mean.

    One row per (model, day): detecting the same day again updates the figures but never
    notifies twice (`notified_at`). `causes` lists the rollouts and scaling changes of the
    model in the window — the likely reasons.
    """

    tenant_path = "tenant"

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="cost_anomalies")
    model = models.ForeignKey("registry.Model", on_delete=models.CASCADE, related_name="cost_anomalies")
    day = models.DateField()
    usd = models.DecimalField(**MONEY)
    baseline_usd = models.DecimalField(**MONEY, help_text="Mean daily cost over the trailing window.")
    history_days = models.PositiveSmallIntegerField(help_text="Days in the trailing window (7, or fewer early on).")
    increase = models.FloatField(help_text="usd / baseline − 1 (0.25 = 25 % above).")
    causes = models.JSONField(default=list, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "-increase"]
        constraints = [models.UniqueConstraint(fields=["model", "day"], name="uniq_anomaly_per_model_day")]

    def __str__(self) -> str:
        return f"{self.model} {self.day}: +{self.increase:.0%}"


class BudgetAlert(models.Model):
    """A team's month-to-date cost reached a threshold (50, 80, 100 % of its budget).

    At most one row per (tenant, month, threshold): the notification goes out once.
    """

    tenant_path = "tenant"

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="budget_alerts")
    month = models.DateField(help_text="First day of the month.")
    threshold = models.PositiveSmallIntegerField()
    mtd_usd = models.DecimalField(**MONEY)
    budget_usd = models.DecimalField(**MONEY)
    forecast_usd = models.DecimalField(**MONEY)
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-month", "-threshold"]
        constraints = [models.UniqueConstraint(fields=["tenant", "month", "threshold"], name="uniq_budget_alert")]

    def __str__(self) -> str:
        return f"{self.tenant} {self.month:%Y-%m}: {self.threshold} %"
