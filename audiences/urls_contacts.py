from django.urls import path

from audiences.views import contacts

urlpatterns = [
    path("", contacts.index, name="index"),
]
