from django.urls import path

from campaigns.views import detail, grid

urlpatterns = [
    path("", grid.campaign_list, name="list"),
    path("export.csv", grid.campaign_export, name="export"),
    path("bulk/", grid.campaign_bulk, name="bulk"),
    path("<uuid:campaign_id>/", detail.campaign_detail, name="detail"),
    path("<uuid:campaign_id>/star/", grid.campaign_star, name="star"),
    path("<uuid:campaign_id>/do/<slug:action>/", detail.campaign_action, name="action"),
]
