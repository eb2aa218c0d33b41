from django.urls import path  # noqa: F401

app_name = "channels_hook_urls"

urlpatterns: list = []
