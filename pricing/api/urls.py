from __future__ import annotations

from django.urls import path

from pricing.api import views

urlpatterns = [
    path(
        "sites/<int:site_id>/prices/",
        views.SitePriceViewSet.as_view({"get": "history"}),
        name="site-prices",
    ),
    path(
        "sites/<int:site_id>/prices/current/",
        views.SitePriceViewSet.as_view({"get": "current"}),
        name="site-prices-current",
    ),
]
