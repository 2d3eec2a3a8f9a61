"""Sites, their settings and connections, sensors and energy, as the API shows them.

Secrets are write-only: ``credentials`` is accepted on PATCH and never rendered; responses carry
only booleans (``connection``) saying what is stored.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from automations.force_discharge import DURATIONS_MINUTES
from automations.selectors import site_control
from devices import services
from devices.models import DemandPeak, EnergySample, Site
from devices.selectors import site_connection_status
from households.selectors import households_for_user
from powersync_site.api_errors import validation_error_from_django
from powersync_site.api_support import TimeRangeQuerySerializer
from tariffs.models import CustomTouSchedule


class AutomationStateSerializer(serializers.Serializer):
    """The automations' state, from the site's intents (automations/intents.py)."""

    spike_active = serializers.BooleanField()
    spike_started_at = serializers.DateTimeField(allow_null=True)
    curtailment_active = serializers.BooleanField()
    curtailment_since = serializers.DateTimeField(allow_null=True)
    force_discharge_until = serializers.DateTimeField(allow_null=True)
    household_hold_active = serializers.BooleanField()
    in_control = serializers.CharField(help_text="Who decides the Powerwall now, in words.")
    in_step = serializers.BooleanField(
        help_text="The last reconcile left the Powerwall as the intents want it."
    )
    updated_at = serializers.DateTimeField(allow_null=True)
    prices_unavailable_since = serializers.DateTimeField(
        allow_null=True,
        help_text="The price source has not answered since then; the Powerwall keeps the last "
        "good tariff (null: prices are coming in).",
    )


class ConnectionSerializer(serializers.Serializer):
    """What is connected. Booleans only: no secret is ever returned."""

    price_source_ok = serializers.BooleanField()
    amber_token_stored = serializers.BooleanField()
    tesla_credentials_stored = serializers.BooleanField()
    energy_site_chosen = serializers.BooleanField()
    needs_reauthorisation = serializers.BooleanField()
    tesla_ok = serializers.BooleanField()


class SiteSerializer(serializers.ModelSerializer[Site]):
    automation_state = serializers.SerializerMethodField()
    connection = serializers.SerializerMethodField()

    class Meta:
        model = Site
        fields = [
            "id",
            "household",
            *services.SITE_SETTINGS_FIELDS,
            *services.SITE_PRICE_SOURCE_FIELDS,
            "tesla_energy_site_id",
            "tesla_access",
            "needs_reauthorisation",
            "automation_state",
            "connection",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(AutomationStateSerializer)
    def get_automation_state(self, site: Site) -> dict[str, Any]:
        control = site_control(site=site, now=timezone.now())
        lines = {line.kind: line for line in [*control.in_control, *control.waiting]}
        spike, curtailment = lines.get("spike"), lines.get("curtailment")
        discharge = lines.get("force_discharge")
        body = {
            "spike_active": spike is not None,
            "spike_started_at": spike.since if spike else None,
            "curtailment_active": curtailment is not None,
            "curtailment_since": curtailment.since if curtailment else None,
            "force_discharge_until": discharge.until if discharge else None,
            "household_hold_active": control.household_hold,
            "in_control": control.headline,
            "in_step": control.in_step,
            "updated_at": control.last_reconcile_at,
            "prices_unavailable_since": control.prices_unavailable_since,
        }
        return AutomationStateSerializer(body).data

    @extend_schema_field(ConnectionSerializer)
    def get_connection(self, site: Site) -> dict[str, Any]:
        status = site_connection_status(site=site)
        return ConnectionSerializer({**asdict(status), "tesla_ok": status.tesla_ok}).data


class CredentialsWriteSerializer(serializers.Serializer):
    """Secrets to store (encrypted). Omit a key to keep what is stored. Never returned."""

    amber_token = serializers.CharField(
        required=False, write_only=True, max_length=500, trim_whitespace=True
    )
    teslemetry_api_key = serializers.CharField(
        required=False, write_only=True, max_length=2000, trim_whitespace=True
    )
    tesla_access_token = serializers.CharField(
        required=False, write_only=True, max_length=8000, trim_whitespace=True
    )
    tesla_refresh_token = serializers.CharField(
        required=False, write_only=True, max_length=8000, trim_whitespace=True
    )


class SiteUpdateSerializer(serializers.ModelSerializer[Site]):
    """PATCH body of a site: settings, price source, and write-only ``credentials``.

    Field validators of the model give per-field 400s (e.g. a negative spike threshold); the
    services then check the site as a whole. All of it is saved in one transaction or not at all.
    """

    credentials = CredentialsWriteSerializer(required=False, write_only=True)
    custom_schedule = serializers.PrimaryKeyRelatedField(
        queryset=CustomTouSchedule.objects.none(), required=False, allow_null=True
    )

    class Meta:
        model = Site
        fields = [
            *services.SITE_SETTINGS_FIELDS,
            *services.SITE_PRICE_SOURCE_FIELDS,
            "credentials",
        ]
        extra_kwargs = {
            "amber_site_id": {"required": False},
            "aemo_region": {"required": False},
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:  # only the caller's own schedules can be chosen
            field = self.fields["custom_schedule"]
            field.queryset = CustomTouSchedule.objects.filter(  # type: ignore[attr-defined]
                household__in=households_for_user(request.user)
            )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Nothing to change: send at least one field.")
        return attrs

    def update(self, instance: Site, validated_data: dict[str, Any]) -> Site:
        credentials = validated_data.pop("credentials", None)
        settings_changes = {
            k: v for k, v in validated_data.items() if k in services.SITE_SETTINGS_FIELDS
        }
        source_changes = {
            k: v for k, v in validated_data.items() if k in services.SITE_PRICE_SOURCE_FIELDS
        }
        try:
            with transaction.atomic():
                if settings_changes:
                    services.site_settings_update(site=instance, changes=settings_changes)
                if source_changes:
                    services.site_price_source_update(site=instance, changes=source_changes)
                if credentials:
                    services.site_credentials_save(site=instance, **credentials)
        except DjangoValidationError as exc:
            raise validation_error_from_django(exc) from None
        instance.refresh_from_db()
        return instance


class SensorsSerializer(serializers.Serializer):
    """The Home Assistant sensors of a site. Power in W with Tesla's signs: battery positive =
    discharging, grid positive = importing. Prices in c/kWh incl. GST (AEMO sites: wholesale
    RRP in $/MWh ex-GST, buy/sell null)."""

    price_interval_end_at = serializers.DateTimeField(allow_null=True)
    price_is_stale = serializers.BooleanField(allow_null=True)
    buy_c_per_kwh = serializers.DecimalField(max_digits=12, decimal_places=5, allow_null=True)
    sell_c_per_kwh = serializers.DecimalField(
        max_digits=12,
        decimal_places=5,
        allow_null=True,
        help_text="What the household earns per kWh exported (negative = exporting costs).",
    )
    rrp_dollars_per_mwh = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    spike_status = serializers.CharField(allow_null=True)
    energy_sampled_at = serializers.DateTimeField(allow_null=True)
    solar_power_w = serializers.IntegerField(allow_null=True)
    grid_power_w = serializers.IntegerField(allow_null=True)
    battery_power_w = serializers.IntegerField(allow_null=True)
    home_power_w = serializers.IntegerField(allow_null=True)
    battery_percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    tou_sync_enabled = serializers.BooleanField(
        help_text="The auto-sync switch; change it with PATCH /sites/{id}/."
    )


class EnergySampleSerializer(serializers.ModelSerializer[EnergySample]):
    home_power_w = serializers.IntegerField(source="load_power_w", read_only=True)

    class Meta:
        model = EnergySample
        fields = [
            "sampled_at",
            "solar_power_w",
            "battery_power_w",
            "grid_power_w",
            "home_power_w",
            "battery_percent",
        ]
        read_only_fields = fields


class DemandPeakSerializer(serializers.ModelSerializer[DemandPeak]):
    class Meta:
        model = DemandPeak
        fields = ["billing_month", "peak_kw", "peak_at", "estimated_charge_dollars", "updated_at"]
        read_only_fields = fields


class EnergyQuerySerializer(TimeRangeQuerySerializer):
    """``start``/``end`` on the sample time; default the last 24 h, at most 31 days."""


class ForceDischargeSerializer(serializers.Serializer):
    minutes = serializers.ChoiceField(
        choices=[(m, f"{m} minutes") for m in DURATIONS_MINUTES],
        help_text="How long to discharge: 15, 30, 45, 60, 90 or 120 minutes.",
    )


class ActionAcceptedSerializer(serializers.Serializer):
    site = serializers.IntegerField()
    action = serializers.CharField()
    detail = serializers.CharField()
