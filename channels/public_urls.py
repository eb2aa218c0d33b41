from django.urls import path

from channels import public_views

app_name = "channels_public_urls"

urlpatterns = [
    path("<str:token>/", public_views.push_page, name="push_page"),
    path("<str:token>/sw.js", public_views.push_service_worker, name="push_service_worker"),
    path("<str:token>/subscribe", public_views.push_subscribe, name="push_subscribe"),
]
