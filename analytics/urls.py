from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("analytics/dashboard.json", views.dashboard_data, name="dashboard_data"),
    path("analytics/campaigns/<uuid:campaign_id>/", views.campaign_report, name="campaign_report"),
    path("analytics/campaigns/<uuid:campaign_id>/events.json", views.campaign_events, name="campaign_events"),
    path("analytics/campaigns/<uuid:campaign_id>/report.csv", views.campaign_report_csv, name="campaign_report_csv"),
    path("analytics/campaigns/<uuid:campaign_id>/members.csv", views.campaign_members_csv,
         name="campaign_members_csv"),
    path("analytics/operations/", views.operations, name="operations"),
]
