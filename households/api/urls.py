from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from households.api import views

router = SimpleRouter()
router.register("households", views.HouseholdViewSet, basename="household")
router.register("events", views.EventViewSet, basename="event")

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    *router.urls,
]
