from django.contrib import admin
from django.urls import path

from ops.views import healthz

admin.site.site_header = "PowerSync operations"
admin.site.site_title = "PowerSync"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
