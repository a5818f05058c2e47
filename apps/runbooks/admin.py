from django.contrib import admin

from apps.runbooks.models import Runbook, RunbookRevision


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    list_display = ("title", "tenant", "model", "revision", "updated_at")
    readonly_fields = ("revision",)


@admin.register(RunbookRevision)
class RunbookRevisionAdmin(admin.ModelAdmin):
    list_display = ("runbook", "number", "created_by", "created_at")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # revisions are history
