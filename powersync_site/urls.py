from django.contrib import admin
from django.urls import include, path

from devices.providers.tesla.partner_key import PUBLIC_KEY_PATH
from devices.views import tesla_partner_public_key
from ops.views import healthz

admin.site.site_header = "PowerSync operations"
admin.site.site_title = "PowerSync"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path(PUBLIC_KEY_PATH.lstrip("/"), tesla_partner_public_key, name="tesla-partner-public-key"),
    path("api/v1/", include("powersync_site.api")),
    path("", include("web.urls")),
]
