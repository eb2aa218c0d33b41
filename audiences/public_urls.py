from django.urls import path  # noqa: F401

app_name = "audiences_public_urls"

urlpatterns: list = []
