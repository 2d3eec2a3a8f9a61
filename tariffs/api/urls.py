from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from tariffs.api import views

router = SimpleRouter()
router.register("pushes", views.TariffPushViewSet, basename="push")
router.register("profiles", views.TouProfileViewSet, basename="profile")
router.register("schedules", views.CustomScheduleViewSet, basename="schedule")

urlpatterns = [
    *router.urls,
    path(
        "sites/<int:site_id>/tariff/current/",
        views.SiteTariffViewSet.as_view({"get": "current"}),
        name="site-tariff-current",
    ),
    path(
        "sites/<int:site_id>/tariff/preview/",
        views.SiteTariffViewSet.as_view({"get": "preview"}),
        name="site-tariff-preview",
    ),
]
