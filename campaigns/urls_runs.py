from django.urls import path

from campaigns.views import detail

urlpatterns = [
    path("<uuid:campaign_id>/progress/", detail.campaign_progress_partial, name="progress"),
    path("<uuid:campaign_id>/members/", detail.campaign_members, name="members"),
    path("<uuid:campaign_id>/members.csv", detail.campaign_members_export, name="members_export"),
]
