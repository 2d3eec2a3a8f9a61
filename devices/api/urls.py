from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from devices.api import views

router = SimpleRouter()
router.register("sites", views.SiteViewSet, basename="site")

urlpatterns = [
    *router.urls,
    path(
        "sites/<int:site_id>/energy/samples/",
        views.SiteEnergyViewSet.as_view({"get": "samples"}),
        name="site-energy-samples",
    ),
    path(
        "sites/<int:site_id>/energy/latest/",
        views.SiteEnergyViewSet.as_view({"get": "latest"}),
        name="site-energy-latest",
    ),
    path(
        "sites/<int:site_id>/energy/demand-peaks/",
        views.SiteDemandPeakViewSet.as_view({"get": "list"}),
        name="site-demand-peaks",
    ),
]
