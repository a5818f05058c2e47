from django.contrib import admin

from apps.drift.models import Baseline, DriftAction, DriftPolicy, DriftReport, ObservationWindow


@admin.register(DriftPolicy)
class DriftPolicyAdmin(admin.ModelAdmin):
    list_display = ("model", "action", "low_threshold", "medium_threshold", "high_threshold", "window_hours")


@admin.register(Baseline)
class BaselineAdmin(admin.ModelAdmin):
    list_display = ("version", "revision", "rows", "source", "updated_at")
    readonly_fields = ("features", "prediction")


@admin.register(ObservationWindow)
class ObservationWindowAdmin(admin.ModelAdmin):
    list_display = ("version", "baseline_revision", "window_start", "rows", "batches")


@admin.register(DriftReport)
class DriftReportAdmin(admin.ModelAdmin):
    list_display = ("id", "model", "version", "severity", "max_psi", "top_feature", "created_at", "acknowledged_at")
    list_filter = ("severity",)


@admin.register(DriftAction)
class DriftActionAdmin(admin.ModelAdmin):
    list_display = ("report", "kind", "deployment", "created_at")
