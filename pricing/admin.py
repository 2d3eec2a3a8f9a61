from django.contrib import admin

from pricing.models import AemoRegionalPrice, AmberPriceInterval


@admin.register(AmberPriceInterval)
class AmberPriceIntervalAdmin(admin.ModelAdmin):
    list_display = [
        "end_at",
        "amber_site_id",
        "channel",
        "interval_type",
        "duration_minutes",
        "price_c_per_kwh",
        "advanced_predicted_c_per_kwh",
        "spike_status",
        "descriptor",
    ]
    list_filter = ["channel", "interval_type", "spike_status", "duration_minutes"]
    search_fields = ["amber_site_id"]
    date_hierarchy = "end_at"


@admin.register(AemoRegionalPrice)
class AemoRegionalPriceAdmin(admin.ModelAdmin):
    list_display = ["interval_end_at", "region", "rrp_dollars_per_mwh", "is_forecast", "fetched_at"]
    list_filter = ["region", "is_forecast"]
    date_hierarchy = "interval_end_at"
