from django.urls import path

from social_accounts import views

app_name = "social_accounts"

urlpatterns = [
    path("", views.index, name="index"),
    path("connect/", views.connect, name="connect"),
    path("<uuid:pk>/", views.detail, name="detail"),
    path("<uuid:pk>/test/", views.test_connection, name="test"),
    path("<uuid:pk>/disconnect/", views.disconnect, name="disconnect"),
    path("<uuid:pk>/delete/", views.delete, name="delete"),
]
