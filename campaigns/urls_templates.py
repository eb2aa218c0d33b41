from django.urls import path

from campaigns.views import grid

urlpatterns = [
    path("templates/", grid.template_list, name="templates"),
]
