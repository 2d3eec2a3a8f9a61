from __future__ import annotations

from rest_framework.routers import SimpleRouter

from automations.api import views

router = SimpleRouter()
router.register("ops/write-pauses", views.WritePauseViewSet, basename="write-pause")

urlpatterns = [*router.urls]
