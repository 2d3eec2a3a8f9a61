"""Tariffs, pushes, saved profiles and custom TOU schedules as the API shows them.

Rates in Tesla tariffs are $/kWh (``*_dollars_per_kwh``); sell is what the household earns.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from automations.holds import HOLD_HOURS_CHOICES
from devices.models import Site
from households.models import Household
from households.selectors import households_for_user, sites_for_user
from powersync_site.api_support import TimeRangeQuerySerializer
from powersync_site.bounds import json_problem
from tariffs.engine.tesla_format import TariffInvalid, validate_tariff_content_v2
from tariffs.models import CustomTouSchedule, TariffPush, TouProfile


class HalfHourSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField(help_text="Tesla's period name, e.g. PERIOD_17_30.")
    local_start = serializers.CharField(source="label", help_text="Local start time HH:MM.")
    buy_dollars_per_kwh = serializers.DecimalField(max_digits=10, decimal_places=4)
    sell_dollars_per_kwh = serializers.DecimalField(max_digits=10, decimal_places=4)


class TariffPushSerializer(serializers.ModelSerializer[TariffPush]):
    class Meta:
        model = TariffPush
        fields = [
            "id",
            "site",
            "reason",
            "status",
            "detail",
            "fingerprint",
            "tariff_content",
            "created_at",
            "pushed_at",
            "verified_at",
        ]
        read_only_fields = fields


class TariffPushListSerializer(TariffPushSerializer):
    """The list leaves out the (large) tariff document; retrieve one push to see it."""

    class Meta(TariffPushSerializer.Meta):
        fields = [f for f in TariffPushSerializer.Meta.fields if f != "tariff_content"]
        read_only_fields = fields


class PushQuerySerializer(TimeRangeQuerySerializer):
    """``start``/``end`` apply to the push's creation time."""

    site = serializers.IntegerField(min_value=1, required=False, help_text="A site id.")
    status = serializers.ChoiceField(choices=TariffPush.Status.choices, required=False)
    reason = serializers.ChoiceField(choices=TariffPush.Reason.choices, required=False)


class CurrentTariffSerializer(serializers.Serializer):
    """The tariff Tesla holds as far as we know: the latest push confirmed by a read-back."""

    push = TariffPushSerializer()
    local_date = serializers.DateField(help_text="The site-local day the half-hours are for.")
    half_hours = HalfHourSerializer(many=True, allow_null=True)


class TariffPreviewSerializer(serializers.Serializer):
    """The tariff the engine would build now (nothing is pushed)."""

    price_source = serializers.CharField()
    built_at = serializers.DateTimeField()
    local_date = serializers.DateField()
    fingerprint = serializers.CharField()
    tariff_content = serializers.JSONField(help_text="Tesla tariff_content_v2.")
    half_hours = HalfHourSerializer(many=True, allow_null=True)


class HouseholdChoiceMixin(serializers.Serializer):
    """A ``household`` field limited to the caller's households; optional when there is one."""

    household = serializers.PrimaryKeyRelatedField(
        queryset=Household.objects.none(),
        required=False,
        help_text="Needed only when you belong to more than one household.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "household" in self.fields:
            self.fields["household"].queryset = households_for_user(  # type: ignore[attr-defined]
                request.user
            )

    def validate_household_choice(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("household") is None:
            request = self.context["request"]
            households = list(households_for_user(request.user)[:2])
            if len(households) != 1:
                raise serializers.ValidationError(
                    {"household": ["Say which household (you belong to several or none)."]}
                )
            attrs["household"] = households[0]
        return attrs


class CustomScheduleSerializer(serializers.ModelSerializer[CustomTouSchedule]):
    site_ids: serializers.PrimaryKeyRelatedField[Site] = serializers.PrimaryKeyRelatedField(
        source="sites", many=True, read_only=True
    )

    class Meta:
        model = CustomTouSchedule
        fields = [
            "id",
            "household",
            "name",
            "retailer",
            "definition",
            "daily_supply_charge_dollars",
            "demand_charge_dollars_per_kw",
            "site_ids",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CustomScheduleWriteSerializer(HouseholdChoiceMixin):
    """A schedule in the engine's JSON form (see the ``definition`` example in the docs).

    The engine checks it (every day of every season covered exactly once, no overlap, rates
    non-negative); its message is returned under the field it names, e.g.
    ``definition.seasons[0].periods[1].windows[0].from``.
    """

    definition = serializers.JSONField(
        help_text=(
            'e.g. {"name": "My plan", "utility": "Retailer", "seasons": [{"name": "All year", '
            '"from": "01-01", "to": "12-31", "periods": [{"name": "PEAK", "buy_c_per_kwh": "45", '
            '"windows": [{"days": "all", "from": "00:00", "to": "24:00"}]}]}]}'
        )
    )
    retailer = serializers.CharField(required=False, allow_blank=True, max_length=120)

    def validate_definition(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        if problem := json_problem(value):
            raise serializers.ValidationError(f"The plan {problem}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None:
            return self.validate_household_choice(attrs)
        return attrs


class CustomScheduleUpdateSerializer(CustomScheduleWriteSerializer):
    household = None  # type: ignore[assignment]  # a schedule stays in its household


_FIELD_PATH = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.DOTALL)


def schedule_error_fields(message: str) -> dict[str, list[str]]:
    """The engine's ``ScheduleInvalid`` message under the field it names (``definition.<path>``),
    or under ``definition`` when it is about the schedule as a whole (coverage, overlap)."""
    match = _FIELD_PATH.match(message)
    if match and match.group(1) != "schedule":
        return {f"definition.{match.group(1)}": [message]}
    return {"definition": [message]}


class TouProfileSerializer(serializers.ModelSerializer[TouProfile]):
    class Meta:
        model = TouProfile
        fields = [
            "id",
            "household",
            "site",
            "name",
            "kind",
            "fingerprint",
            "tariff_content",
            "created_at",
        ]
        read_only_fields = fields


class TouProfileListSerializer(TouProfileSerializer):
    class Meta(TouProfileSerializer.Meta):
        fields = [f for f in TouProfileSerializer.Meta.fields if f != "tariff_content"]
        read_only_fields = fields


class TouProfileCreateSerializer(HouseholdChoiceMixin):
    site = serializers.PrimaryKeyRelatedField(
        queryset=Site.objects.none(), required=False, allow_null=True
    )
    name = serializers.CharField(max_length=120)
    tariff_content = serializers.JSONField(help_text="Tesla tariff_content_v2.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["site"].queryset = sites_for_user(  # type: ignore[attr-defined]
                request.user
            )

    def validate_tariff_content(self, value: Any) -> Any:
        """Refused now what a push would refuse later (negative or absurd rates, a bad shape)."""
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected a JSON object (tariff_content_v2).")
        if problem := json_problem(value):
            raise serializers.ValidationError(f"The tariff {problem}.")
        try:
            validate_tariff_content_v2(value)
        except TariffInvalid as exc:
            raise serializers.ValidationError(f"Not a tariff a Powerwall accepts: {exc}") from None
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        site = attrs.get("site")
        if attrs.get("household") is None and site is not None:
            attrs["household"] = site.household
        return self.validate_household_choice(attrs)


class TouProfileRenameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, help_text="The tariff itself never changes.")


class TouProfileSaveCurrentSerializer(serializers.Serializer):
    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.none())
    name = serializers.CharField(max_length=120)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["site"].queryset = sites_for_user(  # type: ignore[attr-defined]
                request.user
            )


class ProfileQuerySerializer(serializers.Serializer):
    site = serializers.IntegerField(min_value=1, required=False, help_text="A site id.")
    kind = serializers.ChoiceField(choices=TouProfile.Kind.choices, required=False)


class TariffPushRequestSerializer(serializers.Serializer):
    """Which of the caller's sites receives the tariff (a profile defaults to its own site), and
    how long it is held there (live price sync waits meanwhile)."""

    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.none(), required=False)
    hours = serializers.ChoiceField(
        choices=[(h, f"{h} hours") for h in HOLD_HOURS_CHOICES],
        required=False,
        allow_null=True,
        default=None,
        help_text="Hold it for this many hours; omit to hold it until you resume price sync "
        "(POST /sites/{id}/resume-sync/).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["site"].queryset = sites_for_user(  # type: ignore[attr-defined]
                request.user
            )
