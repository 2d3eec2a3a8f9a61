from django.contrib import admin

from ops.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["role", "hostname", "last_seen_at"]
    readonly_fields = ["role", "hostname", "last_seen_at"]
