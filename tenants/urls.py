from django.urls import path

from tenants import views

app_name = "tenants"

urlpatterns = [
    path("settings/", views.workspace_settings, name="settings"),
    path("settings/api-keys/", views.api_key_list, name="api_keys"),
    path("settings/api-keys/<uuid:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
