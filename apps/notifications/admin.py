from django.contrib import admin

from apps.notifications.models import Delivery, Destination


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "kind", "url", "email", "enabled", "updated_at")
    list_filter = ("kind", "enabled")
    exclude = ("secret",)  # shown once to the team, never in the admin


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "tenant", "event", "destination_name", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", "event")
    readonly_fields = [f.name for f in Delivery._meta.fields]
