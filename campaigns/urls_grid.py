from django.urls import path

from campaigns.views import grid

urlpatterns = [
    path("", grid.campaign_list, name="list"),
]
