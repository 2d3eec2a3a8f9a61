"""Operators' view of the automations: each site's intents and state, and the kill switch."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from automations import pauses
from automations.models import AutomationState, SiteIntent, WritePause


class SiteIntentInline(admin.TabularInline):
    """Shown on each site (devices admin): what each automation wants of it."""

    model = SiteIntent
    extra = 0
    can_delete = False
    fields = ("kind", "active", "since", "until", "why", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AutomationState)
class AutomationStateAdmin(admin.ModelAdmin):
    list_display = [
        "site",
        "in_step",
        "tariff_owner",
        "operation_mode_owner",
        "export_rule_owner",
        "held_operation_mode",
        "held_export_rule",
        "last_reconcile_at",
        "last_reconcile_outcome",
    ]
    list_filter = ["in_step", "last_reconcile_outcome", "tariff_owner", "export_rule_owner"]
    search_fields = ["site__name", "site__household__name"]
    list_select_related = ["site"]
    readonly_fields = [f.name for f in AutomationState._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SiteIntent)
class SiteIntentAdmin(admin.ModelAdmin):
    list_display = ["site", "kind", "active", "since", "until", "why"]
    list_filter = ["kind", "active"]
    search_fields = ["site__name", "site__household__name", "why"]
    list_select_related = ["site"]
    readonly_fields = [f.name for f in SiteIntent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.action(description="Resume the selected pauses (reconcile every site they held)")
def resume_pauses(modeladmin: Any, request: HttpRequest, queryset: QuerySet[WritePause]) -> None:
    user = request.user if isinstance(request.user, User) else None
    queued = 0
    for pause in queryset.filter(ended_at__isnull=True):
        queued += pauses.writes_resume(pause=pause, by=user)
    modeladmin.message_user(request, f"Resumed; {queued:,} sites queued for a reconcile.")


@admin.register(WritePause)
class WritePauseAdmin(admin.ModelAdmin):
    """The kill switch. Add one to pause Tesla writes; resume it with the action."""

    list_display = ["created_at", "scope", "region", "site", "reason", "created_by", "ended_at"]
    list_filter = ["scope", "region", ("ended_at", admin.EmptyFieldListFilter)]
    search_fields = ["reason", "site__name"]
    list_select_related = ["site", "created_by"]
    autocomplete_fields = ["site"]
    actions = [resume_pauses]
    fields = ["scope", "region", "site", "reason", "created_by", "created_at", "ended_at"]
    readonly_fields = ["created_by", "created_at", "ended_at"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: WritePause, form: Any, change: bool) -> None:
        try:
            pause = pauses.writes_pause(
                scope=obj.scope,
                region=obj.region,
                site=obj.site,
                reason=obj.reason,
                by=request.user if isinstance(request.user, User) else None,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return
        obj.pk = pause.pk
