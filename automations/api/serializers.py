"""Who is in control of a site (households), and the write pauses (staff only)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from automations.models import WritePause
from devices.models import NemRegion, Site


class ControlLineSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="The intent: spike, curtailment, routine, …")
    title = serializers.CharField(source="label", help_text="The intent's name.")
    summary = serializers.CharField(help_text="What it does and until when, in words.")
    why = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    settings = serializers.ListField(
        child=serializers.CharField(),
        help_text="The Powerwall settings it decides now (tariff, operation_mode, export_rule).",
    )


class SiteControlSerializer(serializers.Serializer):
    """Who decides each Powerwall setting now, what waits behind, and the last reconcile."""

    headline = serializers.CharField()
    in_control = ControlLineSerializer(many=True)
    waiting = ControlLineSerializer(many=True)
    paused_by_operator = serializers.CharField(
        allow_null=True, help_text="The operator's reason while writes are paused."
    )
    household_hold = serializers.BooleanField(
        help_text="A plan or profile of yours is held: POST resume-sync/ ends it."
    )
    in_step = serializers.BooleanField()
    last_reconcile_at = serializers.DateTimeField(allow_null=True)
    last_reconcile_outcome = serializers.CharField()
    last_reconcile_detail = serializers.CharField()


def control_body(control: Any) -> dict[str, Any]:
    """A ``automations.selectors.SiteControl`` as SiteControlSerializer data."""
    return {
        "headline": control.headline,
        "in_control": control.in_control,
        "waiting": control.waiting,
        "paused_by_operator": control.pause.reason if control.pause else None,
        "household_hold": control.household_hold,
        "in_step": control.in_step,
        "last_reconcile_at": control.last_reconcile_at,
        "last_reconcile_outcome": control.last_reconcile_outcome,
        "last_reconcile_detail": control.last_reconcile_detail,
    }


class WritePauseSerializer(serializers.ModelSerializer[WritePause]):
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    ended_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = WritePause
        fields = [
            "id",
            "scope",
            "region",
            "site",
            "reason",
            "created_by",
            "created_at",
            "ended_at",
            "ended_by",
        ]
        read_only_fields = ["id", "created_by", "created_at", "ended_at", "ended_by"]


class WritePauseCreateSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=WritePause.Scope.choices)
    region = serializers.ChoiceField(choices=NemRegion.choices, required=False, default="")
    site = serializers.PrimaryKeyRelatedField(
        queryset=Site.objects.all(), required=False, allow_null=True, default=None
    )
    reason = serializers.CharField(max_length=300, trim_whitespace=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        scope = attrs["scope"]
        if scope == WritePause.Scope.REGION and not attrs.get("region"):
            raise serializers.ValidationError({"region": ["Choose the NEM region to pause."]})
        if scope == WritePause.Scope.SITE and attrs.get("site") is None:
            raise serializers.ValidationError({"site": ["Choose the site to pause."]})
        return attrs


class WritePauseResumedSerializer(serializers.Serializer):
    pause = WritePauseSerializer()
    sites_queued = serializers.IntegerField(help_text="Sites queued for a reconcile.")
