from django.contrib import admin

from tariffs.models import CustomTouSchedule, TariffPush, TouProfile


@admin.register(CustomTouSchedule)
class CustomTouScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "household", "retailer", "daily_supply_charge_dollars", "updated_at"]
    search_fields = ["name", "retailer", "household__name"]
    autocomplete_fields = ["household"]


@admin.register(TouProfile)
class TouProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "household", "site", "kind", "fingerprint", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "household__name", "site__name"]
    autocomplete_fields = ["household", "site"]


@admin.register(TariffPush)
class TariffPushAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "site",
        "reason",
        "status",
        "fingerprint",
        "pushed_at",
        "verified_at",
    ]
    list_filter = ["status", "reason", "created_at"]
    search_fields = ["site__name", "fingerprint"]
    date_hierarchy = "created_at"
    list_select_related = ["site"]
    readonly_fields = [f.name for f in TariffPush._meta.fields]

    def has_add_permission(self, request):
        return False
