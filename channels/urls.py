from django.urls import path

from channels import views

app_name = "channels"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.config_new, name="new"),
    path("new/<slug:channel>/<slug:provider>/", views.config_create, name="create"),
    path("outbox/", views.outbox, name="outbox"),
    path("<uuid:pk>/", views.config_edit, name="edit"),
    path("<uuid:pk>/test/", views.config_test, name="test"),
    path("<uuid:pk>/toggle/", views.config_toggle, name="toggle"),
    path("<uuid:pk>/default/", views.config_make_default, name="make_default"),
    path("<uuid:pk>/webhook-token/", views.config_regenerate_token, name="regenerate_token"),
    path("<uuid:pk>/register-webhook/", views.config_register_webhook, name="register_webhook"),
    path("<uuid:pk>/delete/", views.config_delete, name="delete"),
]
