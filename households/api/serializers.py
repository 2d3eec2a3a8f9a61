"""Households, their event log and the caller's API token, as the API shows them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.models import Site
from households.models import Event, Household, Membership
from households.selectors import membership_for
from powersync_site.api_support import TimeRangeQuerySerializer


class HouseholdSerializer(serializers.ModelSerializer[Household]):
    role = serializers.SerializerMethodField(help_text="The caller's role in this household.")
    site_ids: serializers.PrimaryKeyRelatedField[Site] = serializers.PrimaryKeyRelatedField(
        source="sites", many=True, read_only=True
    )

    class Meta:
        model = Household
        fields = ["id", "name", "role", "site_ids", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Membership.Role.choices))
    def get_role(self, household: Household) -> str | None:
        membership = membership_for(self.context["request"].user, household.pk)
        return membership.role if membership else None


class EventSerializer(serializers.ModelSerializer[Event]):
    class Meta:
        model = Event
        fields = [
            "id",
            "household",
            "site",
            "automation",
            "decision",
            "reason",
            "outcome",
            "data",
            "created_at",
        ]
        read_only_fields = fields


class EventQuerySerializer(TimeRangeQuerySerializer):
    automation = serializers.ChoiceField(choices=Event.Automation.choices, required=False)
    outcome = serializers.ChoiceField(choices=Event.Outcome.choices, required=False)
    site = serializers.IntegerField(min_value=1, required=False, help_text="A site id.")


class TokenStatusSerializer(serializers.Serializer):
    has_token = serializers.BooleanField()
    created_at = serializers.DateTimeField(allow_null=True)


class TokenIssuedSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send as 'Authorization: Token <token>'. Shown once; POST again to replace it."
    )
    created_at = serializers.DateTimeField()
