"""Public audiences URLs (no login): the preference centre and RFC 8058 one-click unsubscribe."""

from django.urls import path

from audiences import public_views

app_name = "audiences_public"

urlpatterns = [
    path("u/<str:token>/", public_views.preferences, name="preferences"),
    path("u/<str:token>/one-click/", public_views.one_click, name="one_click"),
]
