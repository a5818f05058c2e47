from django.contrib import admin

from apps.costs.models import ActualCost, BudgetAlert, CostAnomaly, CostRecord


@admin.register(CostRecord)
class CostRecordAdmin(admin.ModelAdmin):
    list_display = ("hour", "tenant", "model", "environment", "deployment", "replica_hours", "gpu_hours", "usd",
                    "requests")
    list_filter = ("environment", "usage_source")
    date_hierarchy = "day"
    raw_id_fields = ("tenant", "model", "deployment")


@admin.register(ActualCost)
class ActualCostAdmin(admin.ModelAdmin):
    list_display = ("day", "tenant_tag", "model_tag", "environment_tag", "usd", "estimated")


@admin.register(CostAnomaly)
class CostAnomalyAdmin(admin.ModelAdmin):
    list_display = ("day", "tenant", "model", "usd", "baseline_usd", "increase", "notified_at")


@admin.register(BudgetAlert)
class BudgetAlertAdmin(admin.ModelAdmin):
    list_display = ("month", "tenant", "threshold", "mtd_usd", "budget_usd", "notified_at")
