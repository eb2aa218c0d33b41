from django.urls import path

from social_accounts import views

app_name = "social_accounts"

urlpatterns = [
    path("", views.index, name="index"),
]
