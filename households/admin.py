from django.contrib import admin

from households.models import Event, Household, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "created_at"]
    search_fields = ["name", "memberships__user__username", "memberships__user__email"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "household", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "household__name"]
    autocomplete_fields = ["user", "household"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "household", "site", "automation", "decision", "outcome"]
    list_filter = ["automation", "outcome", "created_at"]
    search_fields = ["decision", "reason", "household__name"]
    date_hierarchy = "created_at"
    list_select_related = ["household", "site"]
    readonly_fields = [f.name for f in Event._meta.fields]

    def has_add_permission(self, request):
        return False
