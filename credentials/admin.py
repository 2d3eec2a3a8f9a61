from django.contrib import admin

from credentials.forms import SiteCredentialsForm
from credentials.models import SiteCredentials


class SiteCredentialsInline(admin.StackedInline):
    model = SiteCredentials
    form = SiteCredentialsForm
    extra = 0
    can_delete = False
    readonly_fields = ["updated_at"]


@admin.register(SiteCredentials)
class SiteCredentialsAdmin(admin.ModelAdmin):
    form = SiteCredentialsForm
    list_display = [
        "site",
        "amber_token_set",
        "teslemetry_key_set",
        "tesla_tokens_set",
        "updated_at",
    ]
    search_fields = ["site__name", "site__household__name"]
    readonly_fields = ["site", "updated_at"]

    def has_add_permission(self, request):
        return False  # credentials are added with their site (the Site page's inline)

    @admin.display(boolean=True, description="Amber token")
    def amber_token_set(self, obj: SiteCredentials) -> bool:
        return obj.amber_token is not None

    @admin.display(boolean=True, description="Teslemetry key")
    def teslemetry_key_set(self, obj: SiteCredentials) -> bool:
        return obj.teslemetry_api_key is not None

    @admin.display(boolean=True, description="Tesla tokens")
    def tesla_tokens_set(self, obj: SiteCredentials) -> bool:
        return obj.tesla_refresh_token is not None
