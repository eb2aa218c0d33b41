"""Public tracking URLs (no login): short click redirects and the email open pixel."""

from django.urls import path

from analytics import public_views

app_name = "tracking"

urlpatterns = [
    path("c/<str:token>/", public_views.click, name="click"),
    path("o/<str:token>.gif", public_views.open_pixel, name="open"),
]
