from django.contrib import admin

from automations.admin import SiteIntentInline
from credentials.admin import SiteCredentialsInline
from devices.models import (
    DemandPeak,
    DeviceCommand,
    EnergyHour,
    EnergySample,
    Site,
)


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "household",
        "price_source",
        "tesla_access",
        "time_zone",
        "tou_sync_enabled",
        "spike_detection_enabled",
        "curtailment_enabled",
        "needs_reauthorisation",
    ]
    list_filter = [
        "price_source",
        "tesla_access",
        "tou_sync_enabled",
        "spike_detection_enabled",
        "curtailment_enabled",
        "needs_reauthorisation",
        "aemo_region",
    ]
    search_fields = ["name", "household__name", "amber_site_id", "tesla_energy_site_id"]
    autocomplete_fields = ["household"]
    inlines = [SiteCredentialsInline, SiteIntentInline]
    fieldsets = [
        (None, {"fields": ["household", "name", "time_zone"]}),
        (
            "Price source",
            {
                "fields": [
                    "price_source",
                    "amber_site_id",
                    ("aemo_region", "aemo_network", "aemo_tariff_code"),
                    "custom_schedule",
                ]
            },
        ),
        ("Tesla", {"fields": ["tesla_energy_site_id", "tesla_access", "needs_reauthorisation"]}),
        (
            "Automations",
            {
                "fields": [
                    ("tou_sync_enabled", "forecast_type"),
                    ("spike_detection_enabled", "spike_threshold_dollars_per_mwh"),
                    "curtailment_enabled",
                    "spike_protection_enabled",
                    "export_boost_enabled",
                    (
                        "export_boost_offset_c_per_kwh",
                        "export_boost_min_c_per_kwh",
                        "export_boost_threshold_c_per_kwh",
                    ),
                    ("export_boost_window_start", "export_boost_window_end"),
                    "force_mode_toggle_enabled",
                ]
            },
        ),
    ]


@admin.register(DeviceCommand)
class DeviceCommandAdmin(admin.ModelAdmin):
    list_display = ["created_at", "site", "kind", "reason", "status", "http_status", "latency_ms"]
    list_filter = ["kind", "status", "created_at"]
    search_fields = ["site__name", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["site"]
    readonly_fields = [f.name for f in DeviceCommand._meta.fields]


@admin.register(EnergySample)
class EnergySampleAdmin(admin.ModelAdmin):
    list_display = [
        "sampled_at",
        "site",
        "solar_power_w",
        "battery_power_w",
        "grid_power_w",
        "load_power_w",
        "battery_percent",
    ]
    list_filter = ["site"]
    date_hierarchy = "sampled_at"
    list_select_related = ["site"]


@admin.register(DemandPeak)
class DemandPeakAdmin(admin.ModelAdmin):
    list_display = ["billing_month", "site", "peak_kw", "peak_at", "estimated_charge_dollars"]
    list_filter = ["site"]
    list_select_related = ["site"]


@admin.register(EnergyHour)
class EnergyHourAdmin(admin.ModelAdmin):
    list_display = [
        "hour_start",
        "site",
        "solar_kwh",
        "home_kwh",
        "grid_import_kwh",
        "grid_export_kwh",
        "battery_charge_kwh",
        "battery_discharge_kwh",
        "covered_seconds",
    ]
    list_filter = ["site"]
    date_hierarchy = "hour_start"
    list_select_related = ["site"]
    readonly_fields = [f.name for f in EnergyHour._meta.fields]
