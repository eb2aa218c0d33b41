"""/api/v1/ routes of the journey engine, included beside tenants.api_urls in config/urls.py."""

from django.urls import path

from campaigns.journeys import api

app_name = "journeys_api"

urlpatterns = [
    path("events", api.events_create, name="events"),
]
