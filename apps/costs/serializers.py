"""Shapes of the costs API (responses only: the costs API is read-only)."""

from __future__ import annotations

from rest_framework import serializers

from apps.costs.models import BudgetAlert, CostAnomaly


class CostRowSerializer(serializers.Serializer):
    day = serializers.DateField(required=False, help_text="With group_by=day.")
    model = serializers.CharField(required=False, help_text="With group_by=model.")
    model_id = serializers.IntegerField(required=False)
    tenant = serializers.CharField(required=False, help_text="With group_by=tenant or model.")
    environment = serializers.CharField(required=False, help_text="With group_by=environment.")
    usd = serializers.FloatField(help_text="Estimated cost (metered from the instance catalog).")
    actual_usd = serializers.FloatField(allow_null=True, help_text="AWS Cost Explorer actuals (null: none ingested).")
    gpu_hours = serializers.FloatField()
    replica_hours = serializers.FloatField()
    requests = serializers.IntegerField(allow_null=True, help_text="Requests served; null when not measured.")
    usd_per_1k = serializers.FloatField(allow_null=True, help_text="USD per 1,000 predictions; null with a note.")
    usd_per_1k_note = serializers.CharField(help_text="'no traffic' (0 requests), 'not measured', or empty.")


def row_json(row: dict) -> dict:
    """A report row as JSON: money and hours as numbers (rounded), never Decimal strings."""
    out = {}
    for key, value in row.items():
        if key.startswith("_"):
            continue  # internal figures (e.g. the measured share of usd)
        if key in ("usd", "actual_usd", "gpu_hours", "replica_hours"):
            out[key] = round(float(value), 4) if value is not None else None
        elif key == "usd_per_1k":
            out[key] = round(float(value), 6) if value is not None else None
        else:
            out[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


class CostListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    group_by = serializers.ListField(child=serializers.CharField())
    start = serializers.DateField()
    end = serializers.DateField()
    totals = CostRowSerializer()
    results = CostRowSerializer(many=True)


class CostAnomalySerializer(serializers.ModelSerializer):
    tenant = serializers.CharField(source="tenant.slug", read_only=True)
    model = serializers.CharField(source="model.name", read_only=True)
    usd = serializers.FloatField(read_only=True)
    baseline_usd = serializers.FloatField(read_only=True)
    causes = serializers.ListField(child=serializers.DictField(), read_only=True,
                                   help_text="Rollouts and scaling changes of the model in the window.")

    class Meta:
        model = CostAnomaly
        fields = ["id", "tenant", "model", "model_id", "day", "usd", "baseline_usd", "history_days", "increase",
                  "causes", "notified_at", "created_at"]


class BudgetAlertSerializer(serializers.ModelSerializer):
    tenant = serializers.CharField(source="tenant.slug", read_only=True)

    class Meta:
        model = BudgetAlert
        fields = ["threshold", "tenant", "month", "mtd_usd", "budget_usd", "forecast_usd", "notified_at"]


class BudgetSerializer(serializers.Serializer):
    tenant = serializers.CharField()
    month = serializers.DateField()
    budget_usd = serializers.FloatField()
    mtd_usd = serializers.FloatField()
    actual_mtd_usd = serializers.FloatField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    daily_rate_usd = serializers.FloatField()
    forecast_usd = serializers.FloatField(help_text="Month-to-date + daily rate × days left.")
    forecast_percent = serializers.FloatField(allow_null=True)
    state = serializers.CharField(help_text="on_track | forecast_over | over | no_budget")
    alerts = serializers.ListField(child=serializers.DictField(), help_text="Thresholds reached this month.")


def budget_json(summary, alerts: list) -> dict:
    return {"tenant": summary.tenant.slug, "month": summary.month.isoformat(),
            "budget_usd": float(summary.budget), "mtd_usd": round(float(summary.mtd), 4),
            "actual_mtd_usd": float(summary.actual_mtd) if summary.actual_mtd is not None else None,
            "percent": round(summary.percent, 2) if summary.percent is not None else None,
            "daily_rate_usd": float(summary.daily_rate), "forecast_usd": float(summary.forecast),
            "forecast_percent": round(summary.forecast_percent, 2) if summary.forecast_percent is not None else None,
            "state": summary.state,
            "alerts": [{"threshold": a.threshold, "notified_at": a.notified_at.isoformat() if a.notified_at else None}
                       for a in alerts]}


class RecommendationSerializer(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField()
    monthly_savings_usd = serializers.CharField()
    deployment = serializers.IntegerField()
    model_id = serializers.IntegerField()
    model = serializers.CharField()
    tenant = serializers.CharField()
    environment = serializers.CharField()
    figures = serializers.DictField()
