from django.urls import path

from tenants import api_views

app_name = "api"

urlpatterns = [
    path("whoami", api_views.whoami, name="whoami"),
]
